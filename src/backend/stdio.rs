//! The stdio transport: one supervised child process per server, shared by every client,
//! speaking newline-delimited JSON-RPC on its stdin and stdout.
//!
//! - **Multiplexed**: requests carry gateway-unique ids already (the proxy gives every
//!   upstream request one); answers are matched to their callers by id. The proxy
//!   replaces a request's `progressToken` by the request's upstream id (this transport
//!   asks for it), and the client's own token is restored here in the progress
//!   notifications on the way out, byte-spliced: arguments and results are never
//!   re-serialised.
//! - **Spawned safely**: its own process group, killed with the gateway
//!   (`PR_SET_PDEATHSIG`), a minimal inherited environment ([`INHERITED`]: PATH, HOME,
//!   locale, CA bundles, proxies) plus the
//!   server's `env` with `${VAR}` taken from the gateway's ([`crate::model::refs`]); stderr goes to the log line
//!   by line (bounded length and rate); a line on stdout that is not JSON is logged and
//!   skipped; a line longer than the maximum fails the call that awaited it.
//! - **Supervised**: the child's exit fails every call in flight at once with an error
//!   carrying each caller's id, and wakes the supervisor, which restarts it with backoff.
//!   The process started is watched as well as its output: a launcher killed under its
//!   server (`npm exec`, `uvx`) ends its whole group, and counts as the child's exit.
//! - **Stopped without leaks**: stdin closed, a grace period, SIGTERM to the whole group,
//!   another, SIGKILL to the group, then reaped.
//! - **Either era**: `initialize` first. A server that refuses it (one of 2026-07-28
//!   alone) is started again and asked `server/discover` first; it is then called
//!   statelessly, and a `subscriptions/listen` on the pipe brings its list changes and
//!   the updates of the resources session clients follow. (The Python SDK 2.x serves
//!   either era on a pipe, the first request deciding which: asked `initialize` first
//!   it keeps the session era, where every client capability set gets its own child.)

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::backend::bulkhead::Bulkhead;
use crate::backend::groups::{Groups, MARKER_VAR, confine, signal_group};
use crate::backend::mux::{Mux, MuxAnswer, OwnMessages, Registration, request_frame};
use crate::base::UpstreamError;
use crate::jsonrpc::methods::Method;

/// Why a call found no child to write to: nothing of it reached the server.
pub const NOT_RUNNING: &str = "the server's process is not running";
/// Why a call's line could not be written: the child's stdin was gone.
const NOT_REACHED: &str = "the server's process exited before the call reached it";

/// Whether `e` says a call never reached the child (so it may be sent to a new one).
pub fn never_reached(e: &UpstreamError) -> bool {
    matches!(e, UpstreamError::Connect(m) if m == NOT_RUNNING || m == NOT_REACHED)
}

/// Longest line accepted from a child's stdout.
pub const MAX_LINE: usize = 16 << 20;
/// Grace periods when stopping: after closing stdin, after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// How long a process that closed its output has to exit on its own before its group
/// is killed.
const OUTPUT_END_GRACE: Duration = Duration::from_millis(500);

/// Variables a child inherits from the gateway (besides its own `env`): where programs
/// are, the home, locale, time zone and temporary directory, and the CA bundles and
/// proxies a server needs to reach anything behind a company CA or proxy (README lists
/// them). Nothing else: the gateway's own secrets stay out.
pub const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// What to run.
#[derive(Clone)]
pub struct Launch {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The directory it runs in (the gateway's own when `None`).
    pub cwd: Option<String>,
    /// Calls in flight on the pipe at once; up to [`QUEUE_PER_SLOT`] times as many wait.
    pub max_concurrency: usize,
    /// Stop the child after this long unused; it starts again on the next call.
    pub idle_stop: Option<Duration>,
    /// The child's address-space limit in bytes (`RLIMIT_AS`), if any.
    pub max_memory: Option<u64>,
}

pub use crate::backend::bulkhead::QUEUE_PER_SLOT;

/// One server's child process, restarted by the supervisor through [`connect`].
///
/// [`connect`]: StdioTransport::connect
pub struct StdioTransport {
    launch: Launch,
    /// Where the children's process groups are recorded.
    groups: Arc<Groups>,
    /// How the last child ended (`exit status N`, `signal N`).
    last_exit: Arc<Mutex<Option<String>>>,
    timeout: Duration,
    child: Mutex<Option<Arc<Child>>>,
    next_id: AtomicU64,
    /// Places for calls in flight on the pipe (`max_concurrency`), and calls waiting.
    slots: Bulkhead,
    /// When the child was last used; whether it is stopped for idleness (its tools stay
    /// listed), woken by the next call.
    last_used: Mutex<tokio::time::Instant>,
    asleep: AtomicBool,
    awake: tokio::sync::Notify,
    waking: tokio::sync::Mutex<()>,
    /// The client capabilities its children declare ([`ClientCaps`] bits).
    ///
    /// [`ClientCaps`]: crate::base::ClientCaps
    declared: u8,
    /// The running child speaks 2026-07-28 (it refused `initialize`).
    modern: AtomicBool,
    /// Such a child's capabilities, what its listen asks for.
    listening: Mutex<Value>,
    /// The resources session clients follow on such a child's listen.
    watched: crate::backend::envelope::Watched,
}

/// A running child.
struct Child {
    pid: i32,
    /// Lines for the child's stdin; taken (closing stdin) when stopping.
    stdin: Mutex<Option<mpsc::Sender<Bytes>>>,
    /// The calls in flight on the pipe.
    mux: Arc<Mux>,
    /// The serial of a modern child's open `subscriptions/listen` (id `listen<N>`).
    listening: AtomicU64,
    /// The child's own messages (notifications, requests not tied to a call).
    own: Mutex<Option<mpsc::Receiver<Vec<u8>>>>,
    exited: AtomicBool,
    /// Held by [`watch_leader`] while it waits for the process to end.
    process: tokio::sync::Mutex<Option<tokio::process::Child>>,
    /// Asks [`watch_leader`] to let go of the process (stopping it, or its output ended).
    letting_go: tokio::sync::Notify,
    groups: Arc<Groups>,
    /// Where its exit status goes (kept by the transport across restarts).
    last_exit: Arc<Mutex<Option<String>>>,
    /// Its stderr, logged, with its last lines kept.
    stderr: Arc<crate::backend::stderr::Stderr>,
}

impl Child {
    fn stdin(&self) -> Option<mpsc::Sender<Bytes>> {
        self.stdin.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    async fn write(&self, line: Bytes) -> Result<(), UpstreamError> {
        let gone = || UpstreamError::Connect(NOT_REACHED.into());
        self.stdin()
            .ok_or_else(gone)?
            .send(line)
            .await
            .map_err(|_| gone())
    }
}

impl StdioTransport {
    pub fn new(launch: Launch, timeout: Duration, groups: Arc<Groups>) -> StdioTransport {
        let slots = Bulkhead::new(launch.max_concurrency);
        StdioTransport {
            launch,
            groups,
            last_exit: Arc::default(),
            timeout,
            child: Mutex::new(None),
            next_id: AtomicU64::new(1),
            slots,
            last_used: Mutex::new(tokio::time::Instant::now()),
            asleep: AtomicBool::new(false),
            awake: tokio::sync::Notify::new(),
            waking: tokio::sync::Mutex::new(()),
            declared: crate::base::ClientCaps::ALL,
            modern: AtomicBool::new(false),
            listening: Mutex::new(Value::Null),
            watched: Default::default(),
        }
    }

    /// Another child of the same server, its session declaring only the client
    /// capabilities `declared`.
    pub fn variant(&self, declared: u8) -> StdioTransport {
        StdioTransport {
            declared,
            ..StdioTransport::new(self.launch.clone(), self.timeout, self.groups.clone())
        }
    }

    fn current(&self) -> Result<Arc<Child>, UpstreamError> {
        self.child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|c| !c.exited.load(Ordering::Acquire))
            .ok_or_else(|| UpstreamError::Connect(NOT_RUNNING.into()))
    }

    /// How the last child ended, if one did on its own.
    pub fn last_exit(&self) -> Option<String> {
        self.last_exit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Calls in flight on the running child's pipe.
    pub fn in_flight(&self) -> usize {
        self.current().map_or(0, |c| c.mux.in_flight())
    }

    /// The process id of the running child, if any.
    pub fn pid(&self) -> Option<i32> {
        self.current().ok().map(|c| c.pid)
    }

    /// Starts the child (stopping a previous one first) and initializes it; the
    /// server's capabilities.
    pub async fn connect(&self) -> Result<crate::backend::hello::Hello, UpstreamError> {
        self.close().await;
        self.asleep.store(false, Ordering::Release);
        self.touch();
        self.start_child().await
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = tokio::time::Instant::now();
    }

    /// Whether the child is stopped for idleness.
    pub fn is_asleep(&self) -> bool {
        self.asleep.load(Ordering::Acquire)
    }

    /// How long until the child has been idle for `idle_stop`; `None` without one.
    pub fn idle_remaining(&self) -> Option<Duration> {
        let limit = self.launch.idle_stop?;
        let since = self
            .last_used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed();
        Some(limit.saturating_sub(since))
    }

    /// Stops the child if it has been idle for `idle_stop` with no call in flight;
    /// `true` when it did.
    pub async fn try_sleep(&self) -> bool {
        if self.idle_remaining() != Some(Duration::ZERO) {
            return false;
        }
        let _waking = self.waking.lock().await;
        let Ok(child) = self.current() else {
            return false;
        };
        if child.mux.in_flight() > 0 || self.idle_remaining() != Some(Duration::ZERO) {
            return false;
        }
        self.asleep.store(true, Ordering::Release);
        tracing::info!(backend = %self.launch.name, "server process stopped after being idle");
        self.close().await;
        true
    }

    /// Starts the child again if it is asleep (the next call needs it).
    async fn ensure_awake(&self) -> Result<(), UpstreamError> {
        if self.launch.idle_stop.is_none() {
            return Ok(());
        }
        // Serialised with `try_sleep`: a call never meets a child being put to sleep.
        let _waking = self.waking.lock().await;
        self.touch();
        if self.is_asleep() {
            tracing::info!(backend = %self.launch.name, "server process started for a call");
            // Boxed: starting a child is a large future, and this one would otherwise
            // be laid out inside every call's future, of every transport (the proxy
            // moves it whole: 8.6 KB copied per call, measured with callgrind).
            Box::pin(self.start_child()).await?;
            self.asleep.store(false, Ordering::Release);
            self.awake.notify_waiters();
        }
        Ok(())
    }

    /// Waits until a call wakes the child.
    pub async fn wait_awake(&self) {
        loop {
            let woken = self.awake.notified();
            if !self.is_asleep() {
                return;
            }
            woken.await;
        }
    }

    /// Spawns and initializes a child; its capabilities. A child that refuses
    /// `initialize` is stopped and a fresh one is asked `server/discover` first.
    async fn start_child(&self) -> Result<crate::backend::hello::Hello, UpstreamError> {
        self.modern.store(false, Ordering::Release);
        let child = self.spawn()?;
        *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
        let init = json!({
            "protocolVersion": crate::backend::hello::UPSTREAM_VERSION,
            "capabilities": crate::base::ClientCaps::declared(self.declared),
            "clientInfo": {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")},
        });
        let result = match self.call_raw(Method::Initialize.as_str(), init).await {
            Ok(r) => r,
            // A refusal from a child still running: perhaps one of the 2026-07-28 era.
            Err(e @ UpstreamError::Rpc { .. }) if self.current().is_ok() => {
                self.close().await;
                return match self.start_modern().await {
                    Some(hello) => Ok(hello),
                    None => Err(e),
                };
            }
            Err(e) => {
                let child = self.child.lock().unwrap_or_else(|p| p.into_inner()).clone();
                self.close().await;
                return Err(self.why_it_stopped(e, child).await);
            }
        };
        self.current()?
            .write(one_line(Bytes::from_static(
                b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
            )))
            .await?;
        Ok(crate::backend::hello::Hello::from_result(&result))
    }

    /// A start-up failure with what the child said of it: how it ended and its last
    /// stderr lines (a missing script, a bad argument), for the server's `last_error`.
    async fn why_it_stopped(&self, e: UpstreamError, child: Option<Arc<Child>>) -> UpstreamError {
        let base = match &e {
            UpstreamError::Connect(m) | UpstreamError::Rpc { message: m, .. } => m.clone(),
            UpstreamError::Timeout(_) => e.to_string(),
            _ => return e,
        };
        let Some(child) = child else {
            return e;
        };
        let last = child.stderr.last_lines(Duration::from_millis(500)).await;
        let exit = self
            .last_exit()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        let said = match last.is_empty() {
            true => String::new(),
            false => format!("; its last stderr lines: {last}"),
        };
        // Ended at once, with success: it never meant to serve MCP on its pipe.
        let hint = match self.last_exit().as_deref() {
            Some("exit status 0") => format!("; {}", crate::backend::hints::EXITED_WITHOUT_MCP),
            _ => String::new(),
        };
        UpstreamError::Connect(format!("{base} during start-up{exit}{said}{hint}"))
    }

    /// Starts a child of a server that refused `initialize` and probes it: `server/discover`
    /// naming 2026-07-28 makes it a modern one, listened to; `None` (the child stopped)
    /// when it is not.
    async fn start_modern(&self) -> Option<crate::backend::hello::Hello> {
        let child = self.spawn().ok()?;
        *self.child.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
        self.modern.store(true, Ordering::Release);
        let found = self
            .call_raw(Method::ServerDiscover.as_str(), json!({}))
            .await;
        match found {
            Ok(result) if crate::backend::envelope::lists_ours(&result["supportedVersions"]) => {
                tracing::info!(backend = %self.launch.name,
                    "the server speaks 2026-07-28 alone: called statelessly");
                *self.listening.lock().unwrap_or_else(|p| p.into_inner()) =
                    result["capabilities"].clone();
                self.listen();
                Some(crate::backend::hello::Hello::from_result(&result))
            }
            _ => {
                self.modern.store(false, Ordering::Release);
                self.close().await;
                None
            }
        }
    }

    /// Whether the running child speaks 2026-07-28.
    pub fn is_modern(&self) -> bool {
        self.modern.load(Ordering::Acquire)
    }

    /// (Re)opens a modern child's `subscriptions/listen` on the pipe for its list
    /// changes and the followed resources, ending the one before (cancelled). Its
    /// notifications arrive among the child's own messages.
    fn listen(&self) {
        let Ok(child) = self.current() else { return };
        let uris = self.watched.uris();
        let caps = self
            .listening
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let serial = self.next_id.fetch_add(1, Ordering::Relaxed);
        let Some(stdin) = child.stdin() else { return };
        let before = child.listening.swap(serial, Ordering::AcqRel);
        if before != 0 {
            let cancel = format!(
                r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":"listen{before}"}}}}"#
            );
            let _ = stdin.try_send(one_line(Bytes::from(cancel)));
        }
        let Some(mut params) = crate::backend::envelope::listen_params(&caps, &uris) else {
            return;
        };
        let method =
            crate::backend::envelope::enveloped(Method::SubscriptionsListen.as_str(), &mut params);
        let body = request_frame(&format!("\"listen{serial}\""), method, &params);
        if stdin.try_send(one_line(body)).is_err() {
            tracing::warn!(backend = %self.launch.name, "the server's listen could not be sent");
        }
    }

    /// Follows (`on`) or stops following a resource on a modern child's listen.
    pub fn watch(&self, uri: &str, on: bool) -> Result<(), String> {
        if !self.is_modern() {
            return Err("not a 2026-07-28 backend".into());
        }
        let changed = self.watched.set(uri, on)?;
        if changed {
            self.listen();
        }
        Ok(())
    }

    fn spawn(&self) -> Result<Arc<Child>, UpstreamError> {
        let l = &self.launch;
        let mut cmd = tokio::process::Command::new(&l.command);
        if let Some(dir) = &l.cwd {
            cmd.current_dir(dir);
        }
        cmd.args(&l.args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        for k in INHERITED {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        let env = crate::model::refs::expand_map("env", &l.env).map_err(UpstreamError::Connect)?;
        cmd.envs(env);
        let marker = crate::crypto::random_alphanumeric(24);
        cmd.env(MARKER_VAR, &marker);
        confine(&mut cmd, l.max_memory);
        let mut process = cmd.spawn().map_err(|e| {
            let hint = crate::backend::hints::command_not_found(&l.command, &e)
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            UpstreamError::Connect(format!("cannot start {:?}: {e}{hint}", l.command))
        })?;
        let pid = process.id().map_or(0, |p| p as i32);
        self.groups.add(pid, &marker);
        let (Some(stdin), Some(stdout), Some(stderr)) = (
            process.stdin.take(),
            process.stdout.take(),
            process.stderr.take(),
        ) else {
            return Err(UpstreamError::Connect(
                "the child's pipes are missing".into(),
            ));
        };
        let (in_tx, in_rx) = mpsc::channel::<Bytes>(256);
        let (mux, own_rx) = Mux::new();
        let child = Arc::new(Child {
            pid,
            stdin: Mutex::new(Some(in_tx)),
            mux,
            listening: AtomicU64::new(0),
            own: Mutex::new(Some(own_rx)),
            exited: AtomicBool::new(false),
            process: tokio::sync::Mutex::new(Some(process)),
            letting_go: tokio::sync::Notify::new(),
            groups: self.groups.clone(),
            last_exit: self.last_exit.clone(),
            stderr: Arc::default(),
        });
        tokio::spawn(write_lines(stdin, in_rx));
        child.stderr.read(l.name.clone(), stderr);
        tokio::spawn(read_lines(child.clone(), l.name.clone(), stdout));
        tokio::spawn(watch_leader(child.clone(), l.name.clone()));
        tracing::info!(backend = %l.name, pid, command = %l.command, "server process started");
        Ok(child)
    }

    /// A request the transport makes itself (initialize, lists, ping): its `result`. A
    /// modern child's carries the gateway's envelope (a ping is a `server/discover`).
    async fn call_raw(&self, method: &str, mut params: Value) -> Result<Value, UpstreamError> {
        let id = format!("\"s{}\"", self.next_id.fetch_add(1, Ordering::Relaxed));
        let method = if self.is_modern() {
            crate::backend::envelope::enveloped(method, &mut params)
        } else {
            method
        };
        let body = request_frame(&id, method, &params);
        let call = self.start(&Bytes::from(id), body, None, 0).await?;
        call.result(self.timeout).await
    }

    /// Registers a call of `owner`'s under `id` and writes it.
    async fn start(
        &self,
        id: &Bytes,
        body: Bytes,
        token: Option<Bytes>,
        owner: u64,
    ) -> Result<Registration, UpstreamError> {
        let child = self.current()?;
        let call = child
            .mux
            .register(id, token, owner, crate::backend::mux::result_task(&body))?;
        child.write(one_line(body)).await?;
        Ok(call)
    }

    /// The hot path: writes the request (its id the gateway's) and returns its answer:
    /// one JSON message when the response comes first, else an SSE stream of the call's
    /// messages (progress, then the response). `owner` tells clients apart.
    pub async fn request(
        &self,
        owner: u64,
        id: &Bytes,
        body: Bytes,
        token: Option<Bytes>,
    ) -> Result<(bool, MuxAnswer), UpstreamError> {
        self.ensure_awake().await?;
        let slot = self
            .slots
            .enter(&self.launch.name)
            .await
            .map_err(UpstreamError::Busy)?;
        self.start(id, body, token, owner)
            .await?
            .answer(Some(slot))
            .await
    }

    /// A control-path request with the caller's own id: its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, UpstreamError> {
        self.call_raw(method, params).await
    }

    /// Writes a notification or a client's answer.
    pub async fn notify(&self, body: Bytes) -> Result<(), UpstreamError> {
        self.ensure_awake().await?;
        self.current()?.write(one_line(body)).await
    }

    /// The child's own messages (once per child).
    pub fn messages(&self) -> Result<Option<OwnMessages>, UpstreamError> {
        let child = self.current()?;
        let rx = child.own.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(rx.map(|rx| OwnMessages { rx }))
    }

    /// Stops the child: stdin closed, a grace period, SIGTERM to its group, another,
    /// SIGKILL to the group; reaped.
    pub async fn close(&self) {
        let Some(child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        stop(&child).await;
    }
}

/// Waits for the process the gateway started (the group's leader) to end. A launcher
/// killed (`npm exec`, `uvx`) leaves the server it started serving on the pipe: the
/// child counts as exited (calls fail, the supervisor restarts it) and its whole group
/// is killed. Lets go of the process when asked ([`stop`], the end of its output).
async fn watch_leader(child: Arc<Child>, name: String) {
    let mut process = child.process.lock().await;
    let Some(p) = process.as_mut() else { return };
    let status = tokio::select! {
        status = p.wait() => status,
        () = child.letting_go.notified() => return,
    };
    let how = status.map_or_else(|e| format!("unknown ({e})"), |s| describe_exit(&s));
    // Written before the process is let go: whoever takes the lock next reads it.
    *child.last_exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(how.clone());
    process.take();
    drop(process);
    child.exited.store(true, Ordering::Release);
    child.mux.fail_all("the server's process exited");
    signal_group(child.pid, libc::SIGKILL);
    child.groups.remove(child.pid);
    tracing::warn!(backend = %name, pid = child.pid, how = %how, "server process exited");
}

/// Stops a child and every process of its group.
async fn stop(child: &Child) {
    child.letting_go.notify_one();
    let Some(mut process) = child.process.lock().await.take() else {
        return;
    };
    // Ended on its own before we asked: that is how it ended.
    if let Ok(Some(status)) = process.try_wait() {
        *child.last_exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(describe_exit(&status));
    }
    // Closing stdin asks a well-behaved server to exit (the writer task ends, and with
    // it the pipe, once its sender is gone).
    let pgid = child.pid;
    child.stdin.lock().unwrap_or_else(|p| p.into_inner()).take();
    let exited = |p: &mut tokio::process::Child| matches!(p.try_wait(), Ok(Some(_)));
    let mut done = tokio::time::timeout(STOP_GRACE, process.wait())
        .await
        .is_ok()
        || exited(&mut process);
    if !done {
        signal_group(pgid, libc::SIGTERM);
        done = tokio::time::timeout(STOP_GRACE, process.wait())
            .await
            .is_ok();
    }
    // Whatever the leader did, nothing of its group outlives it.
    signal_group(pgid, libc::SIGKILL);
    if !done {
        let _ = process.wait().await;
    }
    child.exited.store(true, Ordering::Release);
    child.groups.remove(pgid);
    child.mux.fail_all("the server's process was stopped");
}

/// `exit status N` or `signal N`.
fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => status.to_string(),
    }
}

/// The body as one line: line breaks (whitespace in JSON) become spaces.
fn one_line(body: Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(body.len() + 1);
    out.extend_from_slice(&body);
    for b in out.iter_mut() {
        if *b == b'\n' || *b == b'\r' {
            *b = b' ';
        }
    }
    out.extend_from_slice(b"\n");
    out.freeze()
}

async fn write_lines(mut stdin: tokio::process::ChildStdin, mut rx: mpsc::Receiver<Bytes>) {
    while let Some(line) = rx.recv().await {
        if stdin.write_all(&line).await.is_err() {
            return;
        }
    }
    // Every sender gone: stdin closes here.
}

/// Reads the child's stdout line by line and routes each message through the mux.
async fn read_lines(child: Arc<Child>, name: String, stdout: tokio::process::ChildStdout) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line: Vec<u8> = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .unwrap_or_default();
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && line.len() > MAX_LINE {
            // Too long: fail the call it answers (if its id can be read), skip the rest.
            let id = too_long_id(&line);
            tracing::warn!(backend = %name, "a line over {MAX_LINE} bytes from the server was dropped");
            let mut rest = Vec::new();
            loop {
                rest.clear();
                match (&mut reader)
                    .take(64 * 1024)
                    .read_until(b'\n', &mut rest)
                    .await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) if rest.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
            if let Some(id) = id {
                child
                    .mux
                    .fail(
                        &id,
                        &format!("the server's answer is longer than {MAX_LINE} bytes"),
                    )
                    .await;
            }
            continue;
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        if !child.mux.route(Bytes::copy_from_slice(text)).await {
            let shown = String::from_utf8_lossy(&text[..text.len().min(200)]);
            tracing::info!(backend = %name, "not JSON-RPC on stdout, skipped: {shown}");
        }
    }
    child.exited.store(true, Ordering::Release);
    child.mux.fail_all("the server's process exited");
    // Its stdin is closed only by [`stop`]: an end the gateway asked for (a probe's child
    // let go, a shutdown, an idle stop) is no warning.
    if child
        .stdin
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_none()
    {
        tracing::debug!(backend = %name, pid = child.pid, "stopped server process ended its output");
    } else {
        tracing::warn!(backend = %name, pid = child.pid, "server process ended its output");
    }
    // Reap it (and its group) now rather than at the next start.
    child.letting_go.notify_one();
    if let Some(mut p) = child.process.lock().await.take() {
        // A process that closed its output is most often ending: let it end on its own,
        // so that its status says how (`exit status 0` of a program that never served
        // MCP, not the `signal 9` of our kill), then kill what remains of its group.
        let ended = tokio::time::timeout(OUTPUT_END_GRACE, p.wait()).await;
        signal_group(child.pid, libc::SIGKILL);
        let status = match ended {
            Ok(status) => status,
            Err(_) => p.wait().await,
        };
        child.groups.remove(child.pid);
        let how = status.map_or_else(|e| format!("unknown ({e})"), |s| describe_exit(&s));
        tracing::warn!(backend = %name, how = %how, "server process exited");
        *child.last_exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(how);
    }
}

/// The `"id"` value near the start of an over-long line, if it is one of ours.
fn too_long_id(prefix: &[u8]) -> Option<Bytes> {
    let head = &prefix[..prefix.len().min(4096)];
    let at = memchr::memmem::find(head, b"\"id\":")? + 5;
    let rest = &head[at..];
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &rest[start..];
    if rest.first() != Some(&b'"') {
        return None;
    }
    let end = memchr::memchr(b'"', &rest[1..])? + 2;
    Some(Bytes::copy_from_slice(&rest[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_ids() {
        assert_eq!(
            &one_line(Bytes::from_static(b"{\n\"a\": 1\r}"))[..],
            b"{ \"a\": 1 }\n"
        );
        assert_eq!(
            too_long_id(br#"{"jsonrpc":"2.0","id": "g42","result":{"x":"#).as_deref(),
            Some(&b"\"g42\""[..])
        );
        assert_eq!(too_long_id(br#"{"id":7,"#), None);
    }
}
