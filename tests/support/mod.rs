//! Shared test harness: one private PostgreSQL cluster per test binary (the suite is one
//! binary, `tests/it/`, so one cluster a run), created with the gateway's own embedded
//! mechanism in a temporary directory, and a fresh database per test. The cluster is
//! stopped and its directory removed when the test binary exits. Helpers more than one
//! concern uses live here once: the one deadline (`WAIT`) and polling (`eventually`),
//! gateways, their servers, namespaces and sessions (`gateway`), keyadm (`keyadm`,
//! `keyadm_bin`), a stream's next message (`mcp::next_message`), a named lock (`serial`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metamcp::config::{self, Config};
use metamcp::store::embedded::Cluster;

pub mod fixture;
pub mod gateway;
pub mod http;
pub mod mcp;
pub mod mock;
pub mod proc;
pub mod replicas;

/// The independent peers' directory (tests/peers/install.sh: the Python SDK, the
/// conformance suite, the OTLP decoder, the OpenAPI validator, playwright-core), installed
/// on first use from the package registries.
pub fn peers() -> &'static PathBuf {
    static PEERS: OnceLock<PathBuf> = OnceLock::new();
    PEERS.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/install.sh");
        let out = Command::new("bash")
            .arg(script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run tests/peers/install.sh");
        assert!(out.status.success(), "installing the test peers failed");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// The interpreter of the peers' virtualenv `venv` (`venv`, `venv2`, `time`, `otel`,
/// `openapi`, `oauth`), started warm: `tests/peers/warm.py` imports what a script imports
/// once and forks each start, which runs as `python SCRIPT` or `python -m MODULE` would.
pub fn python(venv: &str) -> PathBuf {
    peers().join(venv).join("bin/python-warm")
}

/// A named lock for tests that must not run beside each other (one binary runs every test
/// side by side on threads): a test holds the guard of `name` for as long as it must run
/// alone among the tests that take the same name. A failing holder does not poison it.
pub fn serial(name: &'static str) -> std::sync::MutexGuard<'static, ()> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static LOCKS: OnceLock<Mutex<HashMap<&'static str, &'static Mutex<()>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let lock: &'static Mutex<()> = match locks.get(name) {
        Some(&lock) => lock,
        None => {
            let lock = Box::leak(Box::default());
            locks.insert(name, lock);
            lock
        }
    };
    drop(locks);
    lock.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fixed secrets for external-database mode in tests.
pub const TEST_JWT_SECRET: &str = "test-jwt-secret-that-is-long-enough-0123456789";
pub const TEST_ENCRYPTION_KEY: &str =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

struct Shared {
    cluster: Cluster,
    root: PathBuf,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// A temporary directory the cluster's user can traverse (mktemp makes 0700 ones).
pub fn traversable_tempdir(prefix: &str) -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create temp dir")
        .keep();
    set_mode(&dir, 0o711);
    dir
}

/// Free space a memory-backed folder needs to hold the run's cluster: a database per test
/// (some 430 of 8.6 MB) and room to spare.
const MEMORY_TEMP_NEEDS: u64 = 8 << 30;

/// A folder for the run's cluster, in memory (`/dev/shm`) when it has room
/// ([`MEMORY_TEMP_NEEDS`]), else as [`traversable_tempdir`]. Each test database is a
/// thousand small files made from the template: on a disk, finding each new file an inode
/// (ext4's search past recently deleted ones) was half of PostgreSQL's CPU in a run, and
/// grew with every run before it on the same disk.
pub fn memory_tempdir(prefix: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if free_bytes(shm).is_some_and(|free| free >= MEMORY_TEMP_NEEDS)
        && let Ok(dir) = tempfile::Builder::new().prefix(prefix).tempdir_in(shm)
    {
        let dir = dir.keep();
        set_mode(&dir, 0o711);
        return dir;
    }
    traversable_tempdir(prefix)
}

/// The bytes free to an unprivileged writer in the file system holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs is plain data, for which all zeroes is a value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The binary's cluster, started on first use.
pub fn cluster() -> &'static Cluster {
    &SHARED
        .get_or_init(|| {
            let root = memory_tempdir("metamcp-test-");
            let cluster = Cluster::locate(&root.join("data"))
                .expect("PostgreSQL binaries for the test cluster")
                .unsynced();
            cluster.ensure_running().expect("test cluster starts");
            // SAFETY: registering a plain extern "C" function has no preconditions.
            unsafe {
                libc::atexit(stop_shared_cluster);
            }
            Shared { cluster, root }
        })
        .cluster
}

extern "C" fn stop_shared_cluster() {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    if let Some(shared) = SHARED.get() {
        let _ = shared.cluster.stop(false);
        // A run leaves a database per test (some 300, 2 GB of small files), and removing
        // them took minutes on a busy disk while the run waited: a process of its own
        // removes them (in a group of its own, holding none of the run's pipes), and the
        // run ends now.
        let removal = Command::new("rm")
            .arg("-rf")
            .arg(&shared.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        if removal.is_err() {
            let _ = std::fs::remove_dir_all(&shared.root);
        }
    }
}

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// The run's folder for what tests leave on disk (their data dirs), removed when the test
/// binary exits: a data dir per test in the system's temporary folder added some 300
/// folders to it every run.
fn scratch() -> &'static Path {
    SCRATCH.get_or_init(|| {
        let dir = traversable_tempdir("metamcp-scratch-");
        // SAFETY: registering a plain extern "C" function has no preconditions.
        unsafe {
            libc::atexit(remove_scratch);
        }
        dir
    })
}

extern "C" fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A cluster of one test's own (for a test that stops and starts it), in a temporary
/// directory: stopped and removed when dropped, a failing test's included.
pub struct OwnCluster {
    pub cluster: Cluster,
    root: PathBuf,
}

impl OwnCluster {
    pub fn start(prefix: &str) -> OwnCluster {
        let root = traversable_tempdir(prefix);
        let cluster = Cluster::locate(&root.join("data"))
            .expect("PostgreSQL binaries")
            .unsynced();
        let own = OwnCluster { cluster, root };
        own.cluster.ensure_running().expect("cluster starts");
        own
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop(true);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A new test database's name (`t_` and 12 random characters).
fn fresh_name() -> String {
    format!(
        "t_{}",
        metamcp::crypto::random_alphanumeric(12).to_lowercase()
    )
}

/// The keys in every copy of the migrated database (`TestDb::migrated`).
pub struct TemplateKeys {
    pub admin: String,
    pub client: String,
}

/// Hashes a template key's secret again with argon2id's least parameters (8 KiB, one
/// pass). Verification reads the parameters from the stored hash, so every gateway a
/// test starts on a copy of the template verifies the two keys the way production does,
/// in microseconds rather than the 20 ms of OWASP's parameters: a run's gateways verify
/// them a thousand times, and that was the test binary's largest single cost (15 % of its
/// CPU). Keys a test creates itself keep the production parameters (`identity::keys`
/// checks them).
async fn rehash_cheaply(client: &tokio_postgres::Client, key: &str) {
    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    let (id, secret) = metamcp::store::keys::parse_key_text(key).expect("a key's text");
    let params = Params::new(8, 1, 1, None).expect("argon2's least parameters");
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(secret.as_bytes(), &SaltString::generate(&mut OsRng))
        .expect("hash the template key")
        .to_string();
    let changed = client
        .execute(
            "UPDATE api_keys SET secret_hash = $1 WHERE id = $2",
            &[&hash, &id.as_str()],
        )
        .await
        .expect("store the template key's hash");
    assert_eq!(changed, 1, "the template key {id:?} is in api_keys");
}

/// A database of its own for one test (a copy names the same database).
#[derive(Clone)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A fresh, empty database in the shared cluster.
    pub async fn new() -> TestDb {
        let cluster = cluster();
        let name = fresh_name();
        metamcp::store::db::create_database_if_missing(cluster, &name)
            .await
            .expect("create test database");
        TestDb {
            url: cluster.url(&name),
            name,
        }
    }

    /// A fresh database with every migration applied and two keys in it, `admin` (admin
    /// scope) and `client` (client scope), whose texts it returns: a copy of one database
    /// made so once a run (`CREATE DATABASE … TEMPLATE`). The gateways most tests start
    /// skip applying the migrations again, and hashing two keys with argon2 again.
    /// Tests of a first start, and of the migrations themselves, take `TestDb::new`.
    pub async fn migrated() -> (TestDb, &'static TemplateKeys) {
        static TEMPLATE: OnceLock<(String, TemplateKeys)> = OnceLock::new();
        let (template, keys) = TEMPLATE.get_or_init(|| {
            // Once, on a thread and runtime of its own: the caller's runtime belongs to
            // one test, and the template outlives it.
            std::thread::spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the template");
                rt.block_on(async {
                    use metamcp::store::keys::Scope;
                    let db = TestDb::new().await;
                    let mut client = db.client().await;
                    metamcp::store::migrate::run(&mut client)
                        .await
                        .expect("migrate the template database");
                    let store = gateway::key_store(&db);
                    let keys = TemplateKeys {
                        admin: gateway::create_key(&store, "admin", Scope::Admin, &[]).await,
                        client: gateway::create_key(&store, "client", Scope::Client, &[]).await,
                    };
                    for key in [&keys.admin, &keys.client] {
                        rehash_cheaply(&client, key).await;
                    }
                    (db.name, keys)
                })
            })
            .join()
            .expect("the template database")
        });
        let cluster = cluster();
        let name = fresh_name();
        let admin = metamcp::store::db::connect(&cluster.pg_config("postgres"))
            .await
            .expect("connect to the cluster");
        admin
            // Copied file by file: the default strategy (WAL_LOG) reads the template's every
            // block through shared buffers and writes it to the WAL, 83 ms of CPU a copy
            // against 58 ms (a run makes some 400).
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\" STRATEGY = FILE_COPY"
            ))
            .await
            .expect("copy the migrated template");
        let db = TestDb {
            url: cluster.url(&name),
            name,
        };
        (db, keys)
    }

    /// Environment that points the binaries at this database.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (config::DATABASE_URL, self.url.clone()),
            (config::JWT_SECRET, TEST_JWT_SECRET.to_string()),
            (config::ENCRYPTION_KEY, TEST_ENCRYPTION_KEY.to_string()),
            (config::DATA_DIR, self.data_dir().display().to_string()),
        ]
    }

    /// A data dir of this test's own (stdio process-group records and the like), in the
    /// run's scratch folder.
    pub fn data_dir(&self) -> PathBuf {
        let dir = scratch().join(format!("data-{}", self.name));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }

    /// Configuration for in-process use.
    pub fn config(&self) -> Config {
        let map = self
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .chain([(config::LISTEN.to_string(), "127.0.0.1:0".to_string())])
            .collect::<std::collections::HashMap<_, _>>();
        Config::from_source(&map).expect("test config")
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        metamcp::store::db::connect(&cluster().pg_config(&self.name))
            .await
            .expect("connect to test database")
    }
}

/// Keeps the coverage tool's profile pattern (`LLVM_PROFILE_FILE`, set by an instrumented
/// run such as `cargo tarpaulin --engine llvm`) for a child started with a clean
/// environment: an instrumented binary that exits then adds its counts instead of
/// writing them to `default.profraw` in its working directory.
pub fn keep_coverage(cmd: &mut Command) -> &mut Command {
    if let Some(pattern) = std::env::var_os("LLVM_PROFILE_FILE") {
        cmd.env("LLVM_PROFILE_FILE", pattern);
    }
    cmd
}

/// Runs a built binary of this package with a clean, explicit environment.
pub fn run_bin(bin: &str, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    keep_coverage(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run binary")
}

/// keyadm in this process (its parse and execute) over `db`: what it printed, or its exit
/// code and message.
pub async fn keyadm(db: &TestDb, args: &[&str]) -> Result<String, (i32, String)> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let inv = metamcp::keyadm::parse(&args).map_err(|e| (64, e.to_string()))?;
    metamcp::keyadm::execute(&db.config(), &inv)
        .await
        .map_err(|e| (e.exit_code(), e.to_string()))
}

/// The keyadm binary with `db`'s environment.
pub fn keyadm_bin(db: &TestDb, args: &[&str]) -> Output {
    run_bin(env!("CARGO_BIN_EXE_keyadm"), &db.env(), args)
}

/// [`keyadm_bin`] off the test's runtime (a blocking thread waits for it), for a test
/// whose in-process gateway must go on serving meanwhile.
pub async fn keyadm_bin_async(db: &TestDb, args: &[&str]) -> Output {
    let db = db.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        keyadm_bin(&db, &args)
    })
    .await
    .expect("keyadm's thread")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts the `metamcp` binary on 127.0.0.1 port 0 over `db`; returns the child, its
/// stderr (positioned after the "listening" line) and the address it bound.
pub fn start_gateway_binary(
    db: &TestDb,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    std::net::SocketAddr,
) {
    start_gateway_binary_with(&db.env())
}

/// The gateway binary with exactly `env` (plus an info log and port 0), once it listens.
pub fn start_gateway_binary_with(
    env: &[(&str, String)],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    std::net::SocketAddr,
) {
    let (child, stderr, addr, _) = start_gateway_binary_logged(env);
    (child, stderr, addr)
}

/// [`start_gateway_binary_with`], with the log it wrote up to its "listening" line.
pub fn start_gateway_binary_logged(
    env: &[(&str, String)],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    std::net::SocketAddr,
    String,
) {
    use std::io::BufRead;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_metamcp"));
    cmd.env_clear()
        .env("RUST_LOG", "info")
        .env("METAMCP_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    keep_coverage(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn metamcp");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    let mut head = String::new();
    let found = loop {
        head.push_str(&line);
        line.clear();
        if Instant::now() > deadline || stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break None;
        }
        if let Some(i) = line.find("local=") {
            head.push_str(&line);
            break line[i + 6..]
                .split_whitespace()
                .next()
                .and_then(|a| a.parse().ok());
        }
    };
    match found {
        Some(addr) => (child, stderr, addr, head),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the gateway did not report its address: {line}");
        }
    }
}

/// How long a test waits for something to happen before it fails: a server to run, a
/// tool to be listed, a message to arrive. One deadline for the suite (the modules once
/// copied their own, 10 to 30 s): it only bounds a failing test, a passing one polls and
/// moves on as soon as what it waits for is there (`eventually`), never sleeps it out.
pub const WAIT: Duration = Duration::from_secs(30);

/// The deadline for a peer that starts a language runtime first (npx, uvx, a Python
/// SDK's server) on a loaded machine.
pub const PEER_WAIT: Duration = Duration::from_secs(60);

/// Polls `f` until it returns `Some`, or panics after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for a helper process to end; it must succeed (its stderr says why not).
pub async fn exits_cleanly(child: std::process::Child) {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("the wait")
        .expect("the process");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `tests/peers/sdk2_listen.py` (the SDK 2.x's `client.listen()`) against `url`
/// for the resource `uri`, a tool-list change counting once the list holds `expect`; the
/// child and the JSON lines it prints, as they come.
pub fn sdk2_listening(
    url: &str,
    key: &str,
    uri: &str,
    expect: &str,
) -> (
    std::process::Child,
    tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(python("venv2"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/sdk2_listen.py"
        ))
        .args([url, key, uri, expect])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start sdk2_listen.py");
    let stdout = child.stdout.take().expect("its stdout");
    let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    (child, lines)
}

/// What `tests/peers/sdk2_input.py` saw of server-everything's questions, in either
/// deployment: every question asked in order and answered, every call complete, the
/// URL elicitations (the request path's URL first and the error path's last, the
/// prerequisite between), and the backend's info message about the roots it received
/// (when it can be delivered).
pub fn assert_everything_asked(seen: &serde_json::Value) {
    use serde_json::json;
    assert_eq!(seen["protocol"], "2026-07-28", "{seen}");
    // The questions each call asks come in the calls' order. Roots is asked once, and
    // not by a call: server-everything asks for the client's roots 350 ms after its
    // session starts (`setTimeout(syncRoots, 350)`), so its place among the others is
    // the peer's timing (last on a quiet machine, earlier on a loaded one).
    let asked: Vec<&str> = seen["asked"]
        .as_array()
        .map(|a| a.iter().filter_map(|q| q.as_str()).collect())
        .unwrap_or_default();
    let by_calls: Vec<&str> = asked.iter().copied().filter(|q| *q != "roots").collect();
    assert_eq!(by_calls, ["sampling", "elicitation", "url"], "{seen}");
    assert_eq!(asked.iter().filter(|q| **q == "roots").count(), 1, "{seen}");
    for call in ["sampled", "elicited", "browsed", "required", "rooted"] {
        assert_eq!(seen[format!("{call}_error")], false, "{call}: {seen}");
    }
    assert!(seen["elicited"].to_string().contains("Ada"), "{seen}");
    assert!(
        seen["browsed"]
            .to_string()
            .contains("completed the URL elicitation flow"),
        "{seen}"
    );
    assert!(
        seen["required"]
            .to_string()
            .contains("URL: https://example.com/login"),
        "{seen}"
    );
    let urls = seen["urls"].as_array().expect("urls");
    assert_eq!(urls.first(), Some(&json!("https://example.com/consent")));
    assert_eq!(urls.last(), Some(&json!("https://example.com/login")));
    assert!(
        urls.contains(&json!("https://modelcontextprotocol.io")),
        "{seen}"
    );
    assert!(
        seen["rooted"].to_string().contains("file:///srv/project"),
        "{seen}"
    );
    // Its info message about the roots follows their answer, with no call of its own: a
    // 2026-07-28 client without a listen stream is sent it while one of its calls is in
    // flight. Whether one still is when the backend sends it is the machine's timing: the
    // roots are asked by the backend's timer, during whichever call is in flight, and on
    // a loaded machine the last call can end before the message comes (seen with eight
    // test threads on 2 cores). So what arrives is that message and nothing else (the
    // client asked for info and above). That a session-era backend's log messages reach
    // an SDK 2.x client during its call is `peers::sdks::the_python_sdk_2_in_the_stateless_era`'s
    // to show.
    let logged = seen["logged"].as_array().expect("logged");
    assert!(logged.len() <= 1, "{seen}");
    assert!(
        logged.iter().all(|l| *l
            == json!({
                "level": "info",
                "data": "Roots updated: 1 root(s) received from client"
            })),
        "{seen}"
    );
}

/// What `tests/peers/sdk2_fastmcp.py` saw of FastMCP's questions and logs, in either
/// deployment: both tools complete, each question asked in order, and of the backend's
/// two log messages only the warning (the client asked for info and above).
pub fn assert_fastmcp_asked(seen: &serde_json::Value) {
    use serde_json::json;
    assert_eq!(seen["protocol"], "2026-07-28", "{seen}");
    assert_eq!(
        seen["greeted"],
        json!({"error": false, "text": "Grace: hello (greet Grace)"}),
        "{seen}"
    );
    assert_eq!(
        seen["surveyed"],
        json!({"error": false, "text": "file:///srv/py accept"}),
        "{seen}"
    );
    assert_eq!(
        seen["asked"],
        json!([
            "elicitation",
            "sampling",
            "roots",
            "url https://example.com/py-login"
        ]),
        "{seen}"
    );
    assert_eq!(
        seen["logged"],
        json!([{"level": "warning", "data": "1 root(s) to survey"}]),
        "{seen}"
    );
}
