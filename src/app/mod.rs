//! Start-up: database, migrations, secrets, listener; then serve until a signal.

pub mod address;
pub mod changes;
mod embeddings;
mod learning;
mod limits;
pub mod secrets;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::app::secrets::{Secrets, SecretsError};
use crate::auth::Authenticator;
use crate::auth::token::Tokens;
use crate::cli::{SETTING_FLAGS, parse_settings};
use crate::config::{Config, EXIT_USAGE};
use crate::crypto::Cipher;
use crate::server;
use crate::state::State;
use crate::store::db::{Database, DbError};
use crate::store::keys::KeyStore;
use crate::store::migrate;
use crate::store::registry::Registry;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    Secrets(#[from] SecretsError),
    #[error("cannot listen on {addr}: it is in use. {hint}")]
    InUse {
        addr: std::net::SocketAddr,
        hint: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("METAMCP_BACKEND_CA_FILE (TLS for https:// backends): {0}")]
    Tls(String),
}

/// Opens the database, applies migrations, builds the shared state and loads keys and
/// registry.
pub async fn prepare(config: Config) -> Result<Arc<State>, StartError> {
    let tls =
        crate::crypto::tls_client(config.backend_ca_file.as_deref()).map_err(StartError::Tls)?;
    let db = Database::open(&config).await?;
    let mut client = db.connect().await?;
    let applied = migrate::run(&mut client).await?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "database schema migrated");
    }
    let secrets = Secrets::resolve(&config)?;
    let cipher = Cipher::new(&secrets.encryption);
    let auth = Authenticator::new(
        KeyStore::new(db.pool.clone(), cipher.clone()),
        Tokens::new(&secrets.jwt),
        crate::auth::limits::Limiter::new(config.key_defaults).with_streams(config.stream_bounds),
    );
    let registry = Registry::new(db.pool.clone(), cipher.clone());
    let (rebuild_tx, rebuild_rx) = tokio::sync::mpsc::unbounded_channel();
    let state = Arc::new(State::new(
        config, db, auth, registry, cipher, rebuild_tx, &tls,
    ));
    for tool in gateway_tools(&state.config) {
        state.serve(tool);
    }
    state
        .auth
        .limits
        .share(Arc::new(crate::auth::limits::replicas::Shared::new(
            state.db.pool.clone(),
            state.era.parked.replica.clone(),
            state.auth.limits.clock().clone(),
        )));
    if let Some(shared) = state.auth.limits.shared() {
        // Counted among the replicas before the first request is served.
        if let Err(e) = shared.heartbeat().await {
            tracing::warn!(error = %e, "could not register with the shared limits");
        }
    }
    tokio::spawn(limits::run(Arc::downgrade(&state)));
    tokio::spawn(crate::state::status_events(Arc::downgrade(&state)));
    tokio::spawn(crate::state::circuit_events(Arc::downgrade(&state)));
    tokio::spawn(crate::state::status_sync(Arc::downgrade(&state)));
    tokio::spawn(crate::mcp::subscriptions::deliver_notices(Arc::downgrade(
        &state.planes,
    )));
    tokio::spawn(flush_usage(Arc::downgrade(&state)));
    if state.config.audit {
        tokio::spawn(crate::observe::audit::Audit::run(
            Arc::downgrade(&state.observe.audit),
            state.db.pool.clone(),
        ));
    }
    if let Some(o) = &state.oauth {
        tokio::spawn(crate::auth::oauth::OAuth::refresh_loop(Arc::downgrade(o)));
    }
    if let Some(t) = &state.observe.tracer {
        tokio::spawn(crate::observe::trace::Tracer::run(Arc::downgrade(t)));
    }
    if let Some(retention) = state.config.audit_retention {
        tokio::spawn(crate::observe::audit::expire_loop(
            Arc::downgrade(&state.observe.audit),
            state.db.pool.clone(),
            retention,
        ));
    }
    if let Some(store) = state.embeddings() {
        let wanted = store.attach();
        tokio::spawn(embeddings::run(Arc::downgrade(&state), store, wanted));
    }
    if let Some(learned) = state.learning() {
        tokio::spawn(learning::run(Arc::downgrade(&state), learned));
    }
    tokio::spawn(crate::state::rebuild_loop(
        Arc::downgrade(&state),
        rebuild_rx,
    ));
    changes::full_refresh(&state).await?;
    for ns in state
        .snapshot()
        .namespaces
        .iter()
        .filter(|n| !n.auth_required)
    {
        tracing::warn!(namespace = %ns.name, "namespace is open without credentials (auth: none)");
    }
    Ok(state)
}

/// Writes key usage every [`FLUSH_EVERY`](crate::auth::limits::usage::FLUSH_EVERY) until the
/// state is gone.
async fn flush_usage(state: std::sync::Weak<crate::state::State>) {
    loop {
        tokio::time::sleep(crate::auth::limits::usage::FLUSH_EVERY).await;
        let Some(state) = state.upgrade() else { return };
        if let Err(e) = state.auth.usage.flush(&state.db.pool).await {
            tracing::warn!(error = %e, "could not record key usage; retrying");
        }
    }
}

/// Serves on `listener` with the background tasks running, until `shutdown` completes.
pub async fn run(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    if let Ok(local) = listener.local_addr() {
        state.era.parked.listening_at(local);
    }
    let listener_task = tokio::spawn(changes::run(state.clone()));
    server::run(listener, state.clone(), shutdown).await;
    listener_task.abort();
    state.data.backends.stop_all().await;
    if let Some(shared) = state.auth.limits.shared() {
        // The background task first: a block it is being granted lands in its lease
        // before the leases are given back, not after.
        shared.stop_background().await;
        crate::auth::limits::renew::release_all(&state.auth.limits, shared).await;
    }
    if let Err(e) =
        crate::store::server_status::forget(&state.db.pool, &state.era.parked.replica).await
    {
        tracing::debug!(error = %e, "could not forget this replica's server statuses");
    }
    if let Err(e) = state.auth.usage.flush(&state.db.pool).await {
        tracing::warn!(error = %e, "could not record the last key usage");
    }
    if let Err(e) = state.observe.audit.flush(&state.db.pool).await {
        tracing::warn!(error = %e, queued = state.observe.audit.queued(), "could not write the last audit rows");
    }
    if let Some(t) = &state.observe.tracer {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), t.export_queued()).await;
    }
    state.db.close().await;
}

/// Runs the gateway until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let shutdown = shutdown_signal();
    let addr = config.listen;
    let data_dir = config.data_dir.clone();
    let database = match &config.database {
        crate::config::Database::Url(_) => "DATABASE_URL",
        crate::config::Database::Embedded => "embedded, under the data dir",
    };
    // Bound before the database starts: an address in use fails at once, saying whose.
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| listen_error(addr, &data_dir, source))?;
    let state = prepare(config).await?;
    first_key_hint(&state).await;
    let local = listener.local_addr().unwrap_or(addr);
    address::write(&data_dir, local);
    // `local=` last: scripts read the address off the end of this line.
    tracing::info!(data_dir = %data_dir.display(), database, %local, "metamcp listening");
    run(listener, state, shutdown).await;
    address::remove(&data_dir);
    tracing::info!("metamcp stopped");
    Ok(())
}

/// Why `addr` could not be bound, with what to do: an address in use is most often a
/// gateway started earlier (the set-up's, in another terminal) on the same data directory.
fn listen_error(
    addr: std::net::SocketAddr,
    data_dir: &std::path::Path,
    source: std::io::Error,
) -> StartError {
    if source.kind() != std::io::ErrorKind::AddrInUse {
        return StartError::Listen { addr, source };
    }
    StartError::InUse {
        addr,
        hint: in_use_hint(addr, address::owner(data_dir)),
    }
}

/// The advice for an address in use, given the gateway recorded in the data directory
/// (its process id and address), if one runs.
fn in_use_hint(addr: std::net::SocketAddr, owner: Option<(u32, std::net::SocketAddr)>) -> String {
    match owner {
        Some((pid, at)) if at.port() == addr.port() => format!(
            "A metamcp (process {pid}) already serves this data directory there: use it as it \
             is, or stop it first (Ctrl-C in its terminal, or `kill {pid}`)."
        ),
        _ => "Another program listens there: stop it, or give this gateway another address \
              (--listen 127.0.0.1:PORT or METAMCP_LISTEN)."
            .to_string(),
    }
}

/// On a gateway with no key at all, says how to make the first one (every route but
/// the public ones needs a key, so nothing else can be done before it).
async fn first_key_hint(state: &State) {
    if let Ok(false) = state.auth.keys().any().await {
        tracing::info!(
            "no API key exists yet: create the first with `keyadm keys create --name admin \
             --scope admin` (it is shown once)"
        );
    }
}

/// Completes on the first SIGINT or SIGTERM.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered now, not when first awaited: a SIGTERM that arrives while the gateway
    // starts (children already spawned) still shuts it down gracefully.
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        match handlers {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                // Without signal handlers there is nothing to wait for but Ctrl-C.
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("shutdown signal received; draining");
    }
}

/// Logs to stderr with the given `RUST_LOG` filter (already validated by config).
pub fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// `metamcp --help`.
pub const HELP: &str = "\
metamcp — an MCP gateway: many MCP servers behind one authenticated endpoint

usage: metamcp [--listen ADDR] [--database-url URL] [--data-dir DIR] [--max-body SIZE]
               [--config FILE]

Flags override environment variables (METAMCP_LISTEN, DATABASE_URL, METAMCP_DATA_DIR,
METAMCP_MAX_BODY), which override the TOML file named by --config or METAMCP_CONFIG.
Without DATABASE_URL a private PostgreSQL cluster is started under the data dir.

The same binary is the operator's tools: `metamcp keyadm ...` (or called as `keyadm`),
`metamcp mcpc ...` (`mcpc`), and `metamcp mockmcp ...` (`mockmcp`, a mock MCP server).";

/// The gateway binary's whole run: flags and configuration, then serving until a
/// signal; returns the exit status (64 for usage and configuration errors).
pub fn main(args: Vec<String>) -> u8 {
    let parsed = match parse_settings(args) {
        Ok(p) => p,
        Err(e) => return usage(&e.to_string()),
    };
    if let Some(arg) = parsed.rest.first() {
        return match arg.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                0
            }
            "-V" | "--version" => {
                println!("metamcp {}", env!("CARGO_PKG_VERSION"));
                0
            }
            other => usage(&format!(
                "unknown argument {other:?} (flags: {})",
                SETTING_FLAGS
                    .iter()
                    .map(|(f, _)| *f)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
    }
    let config = match Config::load(parsed.overrides, parsed.config_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE as u8;
        }
    };
    init_logging(&config.log_filter);
    // On one core (taskset, a one-CPU container) a current-thread runtime avoids the
    // work-stealing scheduler's cost; with more, one worker per CPU.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("metamcp: cannot start the runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("metamcp: {e}");
            1
        }
    }
}

fn usage(message: &str) -> u8 {
    eprintln!("metamcp: {message}\nrun `metamcp --help` for usage");
    EXIT_USAGE as u8
}

/// The tools the gateway serves itself ([`crate::routing::gateway`]), one line each:
/// `Arc::new(SomeTool::new(config))`, where `SomeTool` implements
/// [`GatewayTool`](crate::routing::GatewayTool) in a file of its own.
/// `keyadm policies check` decides on them from the same list.
pub fn gateway_tools(config: &crate::config::Config) -> Vec<Arc<dyn crate::routing::GatewayTool>> {
    vec![
        Arc::new(crate::mcp::search::SearchTools),
        Arc::new(crate::mcp::code_run::RunCode::new(&config.code.bounds)),
    ]
}
