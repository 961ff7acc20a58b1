//! `keyadm`: administration of API keys, servers, namespaces, migrations and status,
//! behind a thin binary.
//!
//! Human output is aligned text; `--json` prints one JSON document for scripts. Every
//! failure is one line on stderr and a non-zero exit: 64 for usage and configuration,
//! 65 for input the command cannot use (an import file with problems, a server or a
//! namespace the registry refuses, a key that does not work), 1 for everything else.
//!
//! # Layout
//! - this file: the failure type, the binary's entry point and the dispatch of a parsed
//!   command to its group;
//! - [`args`]: the command line (a small hand-written parser, shared flags in
//!   [`crate::cli`]) and `--help`;
//! - [`keys`]: `keys …` (create, show, update, rotate, usage, …);
//! - [`audit`]: `audit` and `keys usage` as text; [`changes`]: what keyadm changes, on
//!   the audit trail as REST's changes are;
//! - [`status`](status): the `status` command;
//! - [`servers`]: `servers …` and `client-config`; [`server_change`]: `servers set|enable|
//!   disable|restart`; [`oauth`]: `oauth block|unblock|blocks`;
//! - [`namespaces`]: `namespaces list|show|add|set|remove`, through the registry's own
//!   writer and validation;
//! - [`registry`]: `registry search|add|outdated|upgrade`, servers from an MCP registry;
//! - [`line`]: the words and flags of a command line;
//! - [`text`]: output helpers (one JSON line, aligned tables with escaped cells).

use std::io::Write;

use serde_json::json;

use crate::app::secrets::{Secrets, SecretsError};
use crate::cli::{UsageError, parse_settings};
use crate::config::{self, Config, EXIT_USAGE};
use crate::crypto::Cipher;
use crate::store::db::{Database, DbError};
use crate::store::keys::{KeyError, KeyStore};
use crate::store::migrate;

mod args;
mod audit;
mod bridge_command;
mod changes;
mod check;
mod help;
mod keys;
mod line;
mod namespaces;
mod oauth;
mod policies;
mod registry;
mod reviews;
mod server_change;
mod servers;
mod status;
mod text;
mod upstream;

pub use args::{Command, CreateArgs, HELP, Invocation, parse};
pub use namespaces::{Body as NamespaceBody, NamespacesCommand};
pub use oauth::OAuthCommand;
pub use policies::PoliciesCommand;
pub use registry::RegistryCommand;
pub use reviews::ReviewsCommand;
pub use servers::{ClientConfigArgs, Format, ServersCommand};
pub(crate) use text::{aligned, line};

/// Exit status for input a command cannot use (sysexits' EX_DATAERR).
pub const EXIT_DATA: i32 = 65;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum KeyadmError {
    #[error("{0}")]
    Usage(#[from] UsageError),
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    Secrets(#[from] SecretsError),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("refusing to delete {0} without --confirm")]
    NotConfirmed(String),
    #[error("{0}")]
    Registry(#[from] crate::store::registry::StoreError),
    /// Input the command cannot use (a file it cannot read, a key that does not work).
    #[error("{0}")]
    Input(String),
    /// An import refused whole: `stdout` (the report, with `--json`) is printed too.
    #[error("{message}")]
    Rejected { stdout: String, message: String },
}

impl KeyadmError {
    pub fn exit_code(&self) -> i32 {
        match self {
            KeyadmError::Usage(_) | KeyadmError::Config(_) => EXIT_USAGE,
            KeyadmError::Input(_) | KeyadmError::Rejected { .. } => EXIT_DATA,
            KeyadmError::Registry(crate::store::registry::StoreError::Invalid(_)) => EXIT_DATA,
            KeyadmError::Key(crate::store::keys::KeyError::NoSuchNamespace(_)) => EXIT_DATA,
            _ => 1,
        }
    }
}

/// Entry point for the binary: returns the exit status.
pub fn main(args: Vec<String>) -> i32 {
    let result = parse_settings(args)
        .map_err(KeyadmError::from)
        .and_then(|p| {
            let inv = parse(&p.rest)?;
            Ok((p, inv))
        });
    let (parsed, inv) = match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("keyadm: error: {e}\nrun `keyadm --help` for usage");
            return e.exit_code();
        }
    };
    if let Some(help) = help_text(&inv.command) {
        println!("{help}");
        return 0;
    }
    let config = match Config::load(parsed.overrides, parsed.config_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_USAGE;
        }
    };
    crate::app::init_logging(&std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keyadm: cannot start the runtime: {e}");
            return 1;
        }
    };
    // Whatever a client or a backend managed to store (a URI, a tool or server name),
    // no control character of it reaches the admin's terminal raw.
    let print = |text: &str| {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(crate::cli::safe_output(text).as_bytes());
        let _ = stdout.flush();
    };
    match runtime.block_on(execute(&config, &inv)) {
        Ok(out) => {
            print(&out);
            0
        }
        Err(e) => {
            if let KeyadmError::Rejected { stdout, .. } = &e {
                print(stdout);
            }
            eprintln!(
                "keyadm: error: {}",
                crate::cli::terminal_safe(&e.to_string())
            );
            e.exit_code()
        }
    }
}

/// The help a help command prints (the whole, or one command's part); `None` for the
/// other commands.
fn help_text(command: &Command) -> Option<String> {
    match command {
        Command::Help => Some(HELP.to_string()),
        Command::HelpFor(topic) => Some(help::help_for(topic).unwrap_or_else(|| HELP.to_string())),
        _ => None,
    }
}

/// Runs one command against the configured database; returns what to print.
pub async fn execute(config: &Config, inv: &Invocation) -> Result<String, KeyadmError> {
    if let Some(help) = help_text(&inv.command) {
        return Ok(format!("{help}\n"));
    }
    // keyadm never creates the embedded cluster: that is the gateway's first start.
    let db = Database::open_existing(config).await?;
    let out = run_command(config, &db, inv).await;
    db.close().await;
    out
}

async fn run_command(
    config: &Config,
    db: &Database,
    inv: &Invocation,
) -> Result<String, KeyadmError> {
    let trail = changes::Trail::new(config.audit);
    match &inv.command {
        Command::Help | Command::HelpFor(_) => {
            Ok(format!("{}\n", help_text(&inv.command).unwrap_or_default()))
        }
        Command::Status => status::status(config, db, inv.json).await,
        Command::Audit(filter, ids) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let mut filter = filter.clone();
            if let Some(k) = &filter.key {
                filter.key = Some(crate::store::keys::resolve(&db.pool, k).await?.to_string());
            }
            let (entries, next) = crate::store::audit::list(&db.pool, &filter).await?;
            Ok(if inv.json {
                line(json!({"entries": entries, "next_cursor": next}))
            } else {
                audit::audit_table(&entries, next.as_deref(), *ids)
            })
        }
        Command::Migrate => {
            let mut client = db.connect().await?;
            let applied = migrate::run(&mut client).await?;
            Ok(if inv.json {
                line(json!({"applied": applied, "version": migrate::latest()}))
            } else if applied.is_empty() {
                format!("schema is up to date (version {})\n", migrate::latest())
            } else {
                applied
                    .iter()
                    .map(|m| format!("applied {m}\n"))
                    .collect::<String>()
            })
        }
        Command::Servers(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let registry = crate::store::registry::Registry::new(
                db.pool.clone(),
                Cipher::new(&secrets.encryption),
            );
            if let servers::ServersCommand::Authorize(name) = cmd {
                let tls = crate::crypto::tls_client(config.backend_ca_file.as_deref())
                    .map_err(KeyadmError::Input)?;
                let vault = crate::vault::Vault::new(
                    db.pool.clone(),
                    Cipher::new(&secrets.encryption),
                    tls,
                    config.public_url.clone(),
                );
                return upstream::authorize(&registry, &vault, &trail, name, inv.json).await;
            }
            servers::servers_command(&registry, &trail, cmd, inv.json).await
        }
        Command::Namespaces(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let registry = crate::store::registry::Registry::new(
                db.pool.clone(),
                Cipher::new(&secrets.encryption),
            );
            namespaces::namespaces_command(&registry, cmd, inv.json).await
        }
        Command::Reviews(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let registry = crate::store::registry::Registry::new(
                db.pool.clone(),
                Cipher::new(&secrets.encryption),
            );
            reviews::reviews_command(&registry, &trail, cmd, inv.json).await
        }
        Command::Policies(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            policies::policies_command(&db.pool, config, cmd, inv.json).await
        }
        Command::OAuth(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            oauth::oauth_command(&db.pool, &trail, cmd, inv.json).await
        }
        Command::Connections(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let cipher = Cipher::new(&secrets.encryption);
            let registry = crate::store::registry::Registry::new(db.pool.clone(), cipher.clone());
            let tls = crate::crypto::tls_client(config.backend_ca_file.as_deref())
                .map_err(KeyadmError::Input)?;
            let vault =
                crate::vault::Vault::new(db.pool.clone(), cipher, tls, config.public_url.clone());
            upstream::connections(&registry, &vault, &trail, cmd, inv.json).await
        }
        Command::Registry(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let store = crate::store::registry::Registry::new(
                db.pool.clone(),
                Cipher::new(&secrets.encryption),
            );
            let tls = crate::crypto::tls_client(config.backend_ca_file.as_deref())
                .map_err(KeyadmError::Input)?;
            let client = crate::registry::Client::new(tls);
            registry::registry_command(&store, &client, &config.registry_url, &trail, cmd, inv.json)
                .await
        }
        Command::ClientConfig(args) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let cipher = Cipher::new(&secrets.encryption);
            let store = KeyStore::new(db.pool.clone(), cipher.clone());
            let registry = crate::store::registry::Registry::new(db.pool.clone(), cipher);
            servers::client_config(config, &store, &registry, &trail, args).await
        }
        cmd => {
            // Keys commands work on a fresh database: the schema is brought up first.
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let store = KeyStore::new(db.pool.clone(), Cipher::new(&secrets.encryption));
            keys::keys_command(
                &store,
                &trail,
                cmd,
                inv.json,
                &config.key_defaults,
                config.stream_bounds.per_key,
            )
            .await
        }
    }
}
