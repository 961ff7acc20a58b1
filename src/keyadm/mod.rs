//! `keyadm`: API key administration, migrations and status, behind a thin binary.
//!
//! Human output is aligned text; `--json` prints one JSON document for scripts. Every
//! failure is one line on stderr and a non-zero exit: 64 for usage and configuration,
//! 65 for input the command cannot use (an import file with problems, a server the
//! registry refuses, a key that does not work), 1 for everything else.

use std::io::Write;

use serde_json::json;

use crate::app::secrets::{Secrets, SecretsError};
use crate::cli::{UsageError, parse_settings};
use crate::config::{self, Config, EXIT_USAGE};

/// Exit status for input a command cannot use (sysexits' EX_DATAERR).
pub const EXIT_DATA: i32 = 65;
use crate::crypto::Cipher;
use crate::model::limits::{
    Defaults, KeyLimits, LimitsChange, Setting, parse_count_setting, parse_rate_setting,
};
use crate::store::audit::{Filter, When};
use crate::store::db::{Database, DbError};
use crate::store::keys::{KeyError, KeyRecord, KeyStore, NewKey, Scope};
use crate::store::migrate;

mod oauth;
mod servers;

pub use oauth::OAuthCommand;

pub use servers::{ClientConfigArgs, Format, ServersCommand};

/// The flags that set a key's limits.
const LIMIT_FLAGS: [&str; 4] = ["--rate", "--burst", "--max-concurrent", "--daily-calls"];

pub const HELP: &str = "\
keyadm — administer metamcp API keys and the database schema

usage: keyadm [--database-url URL] [--data-dir DIR] [--config FILE] COMMAND

commands:
  keys list [--include-inactive] [--json]
  keys create --name NAME [--description TEXT] [--scope admin|client]
              [--namespace NS]... [--expires-in DAYS] [LIMITS] [--json]
  keys update ID LIMITS [--json]
  keys show ID [--json]
  keys activate ID [--json]
  keys inactivate ID [--json]
  keys delete ID --confirm [--json]
  keys rotate ID [--json]
  keys usage ID [--since 30d] [--json]
                         calls per tool, errors, p50/p99 and bytes (from the audit trail)
  audit [--since 24h] [--until TIME] [--key ID] [--server S] [--tool T] [--outcome O]
        [--limit N] [--cursor C] [--json]
                         the audit trail, newest first (TIME: RFC 3339 or a duration ago)
  servers import FILE [--dry-run] [--prune] [--namespace NS] [--source S] [--json]
                         bring in an mcpServers file (Claude, Cursor, VS Code, Windsurf):
                         one transaction, idempotent; --prune removes what an earlier
                         import of the same source (default: the file's path) created
                         and the file no longer names
  servers export [--namespace NS]
                         the registry as an mcpServers file (secrets masked, ${VAR} kept)
  servers list [--json] | servers show ID [--json]
  servers add NAME (--command CMD [--arg A]... [--env K=V]... [--cwd DIR]
                   | --url URL [--type http|sse] [--header K=V]...) [--inactive] [--json]
  servers remove ID --confirm [--json]
  client-config (--key KEY | --create-key NAME) [--namespace NS] [--url URL]
                [--format claude|cursor|vscode|json] [--bridge]
                         the entry to paste into an MCP client (--bridge: the stdio
                         relay `mcpc bridge`, for clients that run only stdio servers)
  oauth block (--sub S | --client-id C) [--issuer URL] [--reason TEXT] [--json]
  oauth unblock (--sub S | --client-id C) [--issuer URL] [--json]
  oauth blocks [--json]  refuse an OAuth identity's tokens on every gateway (within a
                         second), take it back, list what is blocked
  migrate [--json]       apply pending schema migrations
  status [--json]        database, schema and key counts

LIMITS (each per gateway process; `none` removes the key's limit: no limit at all;
`default` returns it to the gateway's METAMCP_KEY_* default):
  --rate N/s|N/m         requests per second or minute (a token bucket); none or default
                         also clears the key's burst
  --burst N              requests at once before the rate applies (default: N of the rate)
  --max-concurrent N     MCP requests in flight at once
  --daily-calls N        tool calls per UTC day

The API key is printed once, by `keys create` and `keys rotate`; store it then.
Database settings are the gateway's: DATABASE_URL, or the embedded cluster the gateway
created under the data directory (--data-dir, else METAMCP_DATA_DIR, else
$XDG_DATA_HOME/metamcp, else ~/.local/share/metamcp); keyadm never creates one.";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    List { include_inactive: bool },
    Create(CreateArgs),
    Show(String),
    Activate(String),
    Inactivate(String),
    Delete { id: String, confirm: bool },
    Update { id: String, limits: LimitsChange },
    Rotate(String),
    Usage { id: String, since: When },
    Audit(Filter),
    Migrate,
    Status,
    Servers(ServersCommand),
    ClientConfig(ClientConfigArgs),
    OAuth(OAuthCommand),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateArgs {
    pub name: String,
    pub description: Option<String>,
    pub scope: Scope,
    pub namespaces: Vec<String>,
    pub expires_in_days: Option<u32>,
    pub limits: LimitsChange,
}

/// A command and the output format asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub command: Command,
    pub json: bool,
}

/// Parses everything after the settings flags.
pub fn parse(args: &[String]) -> Result<Invocation, UsageError> {
    let usage = |m: String| Err(UsageError(m));
    let json_flag = args.iter().any(|a| a == "--json");
    let help = args.iter().any(|a| a == "-h" || a == "--help");
    match args.iter().position(|a| !a.starts_with('-')) {
        Some(i) if !help && args[i] == "servers" => {
            let rest: Vec<String> = args[..i].iter().chain(&args[i + 1..]).cloned().collect();
            return Ok(Invocation {
                command: Command::Servers(servers::parse_servers(&rest)?),
                json: json_flag,
            });
        }
        Some(i) if !help && args[i] == "oauth" => {
            let rest: Vec<String> = args[..i].iter().chain(&args[i + 1..]).cloned().collect();
            return Ok(Invocation {
                command: Command::OAuth(oauth::parse_oauth(&rest)?),
                json: json_flag,
            });
        }
        Some(i) if !help && args[i] == "client-config" => {
            let rest: Vec<String> = args[..i].iter().chain(&args[i + 1..]).cloned().collect();
            return Ok(Invocation {
                command: Command::ClientConfig(servers::parse_client_config(&rest)?),
                json: json_flag,
            });
        }
        _ => {}
    }
    let mut json = false;
    let mut words: Vec<&str> = Vec::new();
    let mut flags: Vec<(&str, Option<&str>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--json" => json = true,
            "-h" | "--help" => {
                return Ok(Invocation {
                    command: Command::Help,
                    json,
                });
            }
            "--include-inactive" | "--confirm" => flags.push((a, None)),
            "--name" | "--description" | "--scope" | "--namespace" | "--expires-in" | "--rate"
            | "--burst" | "--max-concurrent" | "--daily-calls" | "--since" | "--until"
            | "--key" | "--server" | "--tool" | "--outcome" | "--limit" | "--cursor" => {
                let Some(v) = args.get(i + 1) else {
                    return usage(format!("{a} needs a value"));
                };
                flags.push((a, Some(v.as_str())));
                i += 1;
            }
            _ if a.starts_with('-') => return usage(format!("unknown flag {a}")),
            _ => words.push(a),
        }
        i += 1;
    }
    let allowed = |ok: &[&str]| -> Result<(), UsageError> {
        match flags.iter().find(|(f, _)| !ok.contains(f)) {
            Some((f, _)) => Err(UsageError(format!("{f} does not apply to this command"))),
            None => Ok(()),
        }
    };
    let one_id = |rest: &[&str], cmd: &str| -> Result<String, UsageError> {
        match rest {
            [id] => Ok(id.to_string()),
            [] => Err(UsageError(format!("keys {cmd} needs a key ID"))),
            _ => Err(UsageError(format!("keys {cmd} takes one key ID"))),
        }
    };
    let single = |f: &'static str| {
        flags
            .iter()
            .filter(move |(n, _)| *n == f)
            .filter_map(|(_, v)| *v)
    };
    let value = |f: &'static str| single(f).next_back();
    let limits = || -> Result<LimitsChange, UsageError> {
        for f in LIMIT_FLAGS {
            if single(f).count() > 1 {
                return Err(UsageError(format!("{f} given more than once")));
            }
        }
        let flag = |f: &str, e: String| UsageError(format!("{f}: {e}"));
        let count = |f: &'static str, max: u64| {
            single(f)
                .next()
                .map(|v| parse_count_setting(v, max).map_err(|e| flag(f, e)))
                .transpose()
        };
        let narrow = |s: Setting<u64>| match s {
            Setting::Is(n) => Setting::Is(u32::try_from(n).unwrap_or(u32::MAX)),
            Setting::Unlimited => Setting::Unlimited,
            Setting::Default => Setting::Default,
        };
        Ok(LimitsChange {
            rate: single("--rate")
                .next()
                .map(|v| parse_rate_setting(v).map_err(|e| flag("--rate", e)))
                .transpose()?,
            burst: match count("--burst", 1_000_000_000)? {
                None => None,
                Some(Setting::Is(n)) => Some(Some(u32::try_from(n).unwrap_or(u32::MAX))),
                Some(Setting::Default) => Some(None),
                Some(Setting::Unlimited) => {
                    return Err(UsageError(
                        "--burst takes a number or default (a burst cannot be none: \
                         --rate none removes the rate and its burst)"
                            .into(),
                    ));
                }
            },
            max_concurrent: count("--max-concurrent", 1_000_000)?.map(narrow),
            daily_calls: count("--daily-calls", 1_000_000_000_000)?,
        })
    };
    let command =
        match words.as_slice() {
            [] | ["help"] => Command::Help,
            ["migrate"] => {
                allowed(&[])?;
                Command::Migrate
            }
            ["status"] => {
                allowed(&[])?;
                Command::Status
            }
            ["keys", "list"] => {
                allowed(&["--include-inactive"])?;
                Command::List {
                    include_inactive: flags.iter().any(|(f, _)| *f == "--include-inactive"),
                }
            }
            ["keys", "create"] => {
                allowed(&[
                    "--name",
                    "--description",
                    "--scope",
                    "--namespace",
                    "--expires-in",
                    "--rate",
                    "--burst",
                    "--max-concurrent",
                    "--daily-calls",
                ])?;
                for f in ["--name", "--description", "--scope", "--expires-in"] {
                    if single(f).count() > 1 {
                        return usage(format!("{f} given more than once"));
                    }
                }
                let Some(name) = single("--name").next() else {
                    return usage("keys create needs --name".to_string());
                };
                let scope = match single("--scope").next() {
                    None => Scope::Client,
                    Some(s) => Scope::parse(s).ok_or_else(|| {
                        UsageError(format!("--scope must be admin or client, not {s:?}"))
                    })?,
                };
                let expires_in_days = match single("--expires-in").next() {
                    None => None,
                    Some(d) => Some(d.parse::<u32>().map_err(|_| {
                        UsageError(format!(
                            "--expires-in takes a whole number of days, not {d:?}"
                        ))
                    })?),
                };
                Command::Create(CreateArgs {
                    name: name.to_string(),
                    description: single("--description").next().map(String::from),
                    scope,
                    namespaces: single("--namespace").map(String::from).collect(),
                    expires_in_days,
                    limits: limits()?,
                })
            }
            ["keys", "update", rest @ ..] => {
                allowed(&LIMIT_FLAGS)?;
                let id = one_id(rest, "update")?;
                let limits = limits()?;
                if limits.is_empty() {
                    return usage(format!(
                        "keys update needs at least one of {}",
                        LIMIT_FLAGS.join(", ")
                    ));
                }
                Command::Update { id, limits }
            }
            ["keys", "show", rest @ ..] => {
                allowed(&[])?;
                Command::Show(one_id(rest, "show")?)
            }
            ["keys", "activate", rest @ ..] => {
                allowed(&[])?;
                Command::Activate(one_id(rest, "activate")?)
            }
            ["keys", "inactivate", rest @ ..] => {
                allowed(&[])?;
                Command::Inactivate(one_id(rest, "inactivate")?)
            }
            ["keys", "delete", rest @ ..] => {
                allowed(&["--confirm"])?;
                Command::Delete {
                    id: one_id(rest, "delete")?,
                    confirm: flags.iter().any(|(f, _)| *f == "--confirm"),
                }
            }
            ["keys", "rotate", rest @ ..] => {
                allowed(&[])?;
                Command::Rotate(one_id(rest, "rotate")?)
            }
            ["keys", "usage", rest @ ..] => {
                allowed(&["--since"])?;
                let since = match value("--since") {
                    Some(v) => When::parse(v).map_err(|e| UsageError(format!("--since: {e}")))?,
                    None => When::Ago(std::time::Duration::from_secs(30 * 86_400)),
                };
                Command::Usage {
                    id: one_id(rest, "usage")?,
                    since,
                }
            }
            ["audit"] => {
                allowed(&[
                    "--since", "--until", "--key", "--server", "--tool", "--outcome", "--limit",
                    "--cursor",
                ])?;
                let when = |flag: &'static str| -> Result<Option<When>, UsageError> {
                    value(flag)
                        .map(|v| When::parse(v).map_err(|e| UsageError(format!("{flag}: {e}"))))
                        .transpose()
                };
                let limit = value("--limit")
                    .map(|v| {
                        v.parse::<i64>()
                            .map_err(|_| UsageError(format!("--limit: not a number: {v:?}")))
                    })
                    .transpose()?;
                let filter = Filter {
                    key: value("--key").map(str::to_string),
                    server: value("--server").map(str::to_string),
                    tool: value("--tool").map(str::to_string),
                    outcome: value("--outcome").map(str::to_string),
                    since: when("--since")?,
                    until: when("--until")?,
                    limit,
                    cursor: value("--cursor").map(str::to_string),
                };
                filter
                    .validate()
                    .map_err(|(field, m)| UsageError(format!("--{field}: {m}")))?;
                Command::Audit(filter)
            }
            ["keys"] => return usage(
                "keys needs a subcommand: list, create, update, show, activate, inactivate, delete, rotate, usage"
                    .to_string(),
            ),
            ["keys", other, ..] => return usage(format!("unknown keys subcommand {other:?}")),
            [other, ..] => return usage(format!("unknown command {other:?}")),
        };
    Ok(Invocation { command, json })
}

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
    if inv.command == Command::Help {
        println!("{HELP}");
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

/// Runs one command against the configured database; returns what to print.
pub async fn execute(config: &Config, inv: &Invocation) -> Result<String, KeyadmError> {
    if let Command::Help = inv.command {
        return Ok(format!("{HELP}\n"));
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
    match &inv.command {
        Command::Help => Ok(format!("{HELP}\n")),
        Command::Status => status(config, db, inv.json).await,
        Command::Audit(filter) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let (entries, next) = crate::store::audit::list(&db.pool, filter).await?;
            Ok(if inv.json {
                line(json!({"entries": entries, "next_cursor": next}))
            } else {
                audit_table(&entries, next.as_deref())
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
            servers::servers_command(&registry, cmd, inv.json).await
        }
        Command::OAuth(cmd) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            oauth::oauth_command(&db.pool, cmd, inv.json).await
        }
        Command::ClientConfig(args) => {
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let store = KeyStore::new(db.pool.clone(), Cipher::new(&secrets.encryption));
            servers::client_config(config, &store, args).await
        }
        cmd => {
            // Keys commands work on a fresh database: the schema is brought up first.
            let mut client = db.connect().await?;
            migrate::run(&mut client).await?;
            let secrets = Secrets::resolve(config)?;
            let store = KeyStore::new(db.pool.clone(), Cipher::new(&secrets.encryption));
            keys_command(&store, cmd, inv.json, &config.key_defaults).await
        }
    }
}

async fn keys_command(
    store: &KeyStore,
    cmd: &Command,
    json: bool,
    defaults: &Defaults,
) -> Result<String, KeyadmError> {
    match cmd {
        Command::List { include_inactive } => {
            let keys = store.list(*include_inactive).await?;
            Ok(if json {
                line(serde_json::to_value(&keys).unwrap_or_default())
            } else {
                table(&keys, *include_inactive)
            })
        }
        Command::Create(a) => {
            let issued = store
                .create(NewKey {
                    name: a.name.clone(),
                    description: a.description.clone(),
                    scope: a.scope,
                    namespaces: a.namespaces.clone(),
                    expires_in_days: a.expires_in_days,
                    limits: a.limits,
                })
                .await?;
            Ok(if json {
                line(json!({"id": issued.id, "api_key": issued.api_key}))
            } else {
                format!(
                    "created key {} ({}, scope {})\n\nAPI key (shown only now; store it safely):\n{}\n",
                    issued.id, a.name, a.scope, issued.api_key
                )
            })
        }
        Command::Show(id) => {
            let key = store.show(id).await?;
            Ok(if json {
                line(serde_json::to_value(&key).unwrap_or_default())
            } else {
                details(&key, defaults)
            })
        }
        Command::Update { id, limits } => {
            let key = store.update_limits(id, limits).await?;
            Ok(if json {
                line(serde_json::to_value(&key).unwrap_or_default())
            } else {
                format!(
                    "key {} limits: {}\n",
                    key.id,
                    describe_limits(&key.limits, defaults)
                )
            })
        }
        Command::Activate(id) | Command::Inactivate(id) => {
            let active = matches!(cmd, Command::Activate(_));
            let key = store.set_active(id, active).await?;
            Ok(if json {
                line(serde_json::to_value(&key).unwrap_or_default())
            } else {
                format!("key {} is now {}\n", key.id, key.state())
            })
        }
        Command::Delete { id, confirm } => {
            if !confirm {
                // Check the id first so a typo is reported as such, not as "confirm".
                store.show(id).await?;
                return Err(KeyadmError::NotConfirmed(format!("key {id}")));
            }
            store.delete(id).await?;
            Ok(if json {
                line(json!({"id": id, "deleted": true}))
            } else {
                format!("deleted key {id}\n")
            })
        }
        Command::Rotate(id) => {
            let issued = store.rotate(id).await?;
            Ok(if json {
                line(json!({"id": issued.id, "api_key": issued.api_key}))
            } else {
                format!(
                    "rotated key {}; the previous secret no longer works\n\nAPI key (shown only now; store it safely):\n{}\n",
                    issued.id, issued.api_key
                )
            })
        }
        Command::Usage { id, since } => {
            // An unknown key is an error, not an empty report.
            let key = store.show(id).await?;
            let usage =
                crate::store::audit::usage(store.pool(), &key.id.to_string(), since).await?;
            Ok(if json {
                line(usage)
            } else {
                usage_table(&usage)
            })
        }
        Command::Help
        | Command::Migrate
        | Command::Status
        | Command::Audit(_)
        | Command::Servers(_)
        | Command::ClientConfig(_)
        | Command::OAuth(_) => Ok(String::new()),
    }
}

async fn status(config: &Config, db: &Database, json: bool) -> Result<String, KeyadmError> {
    let client = db.connect().await?;
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(DbError::from)?
        .get(0);
    let schema = migrate::status(&client).await?;
    let counts = if schema.current > 0 {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE is_active AND NOT coalesce(expires_at <= now(), false)),
                        count(*) FILTER (WHERE NOT is_active),
                        count(*) FILTER (WHERE is_active AND expires_at <= now())
                 FROM api_keys",
                &[],
            )
            .await
            .map_err(DbError::from)?;
        Some((
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
        ))
    } else {
        None
    };
    let (mode, location) = match &db.cluster {
        Some(c) => (
            "embedded",
            format!(
                "{} (socket in {})",
                c.pgdata().display(),
                c.socket_dir().display()
            ),
        ),
        None => ("external", describe_external(config)),
    };
    if json {
        return Ok(line(json!({
            "database": {"mode": mode, "location": location, "server_version": version},
            "schema": {"version": schema.current, "latest": migrate::latest(), "pending": schema.pending},
            "keys": counts.map(|(a, i, e)| json!({"active": a, "inactive": i, "expired": e})),
        })));
    }
    let schema_line = if schema.pending.is_empty() {
        format!("version {} (up to date)", schema.current)
    } else {
        format!(
            "version {}, pending: {} (run `keyadm migrate`)",
            schema.current,
            schema.pending.join(", ")
        )
    };
    let keys_line = match counts {
        Some((a, i, e)) => format!("{a} active, {i} inactive, {e} expired"),
        None => "no schema yet".to_string(),
    };
    Ok(format!(
        "database  {mode}: {location}\nserver    PostgreSQL {version}\nschema    {schema_line}\nkeys      {keys_line}\n"
    ))
}

/// Host and database of an external URL, never its password.
fn describe_external(config: &Config) -> String {
    let config::Database::Url(pg) = &config.database else {
        return String::new();
    };
    let host = pg
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    format!(
        "{host}/{}{}",
        pg.get_dbname().unwrap_or_default(),
        pg.get_user()
            .map(|u| format!(" as {u}"))
            .unwrap_or_default()
    )
}

pub(crate) fn line(v: serde_json::Value) -> String {
    format!("{v}\n")
}

/// An aligned table of keys.
fn table(keys: &[KeyRecord], include_inactive: bool) -> String {
    if keys.is_empty() {
        return if include_inactive {
            "no keys\n".to_string()
        } else {
            "no active keys (--include-inactive shows the rest)\n".to_string()
        };
    }
    let dash = || "-".to_string();
    let rows: Vec<[String; 9]> = keys
        .iter()
        .map(|k| {
            [
                k.id.to_string(),
                k.name.clone(),
                k.scope.to_string(),
                k.state().to_string(),
                if k.namespaces.is_empty() {
                    "*".to_string()
                } else {
                    k.namespaces.join(",")
                },
                k.created_at.clone(),
                k.last_used_at.clone().unwrap_or_else(dash),
                k.calls.to_string(),
                k.expires_at.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    let header = [
        "ID",
        "NAME",
        "SCOPE",
        "STATE",
        "NAMESPACES",
        "CREATED",
        "LAST USED",
        "CALLS",
        "EXPIRES",
    ];
    aligned(&header, rows.iter().map(|r| r.to_vec()).collect())
}

/// Rows under a header, in columns two spaces apart.
pub(crate) fn aligned(header: &[&str], rows: Vec<Vec<String>>) -> String {
    // One row per line: a cell's control characters are escaped, never printed.
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| match crate::cli::printable(&c) {
                    std::borrow::Cow::Borrowed(_) => c,
                    std::borrow::Cow::Owned(escaped) => escaped,
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                let pad = widths[i] - c.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    };
    push_row(header.to_vec());
    for r in &rows {
        push_row(r.iter().map(String::as_str).collect());
    }
    out
}

/// `keyadm audit` as text: one line an entry, then how to get the next page.
fn audit_table(entries: &[serde_json::Value], next: Option<&str>) -> String {
    if entries.is_empty() {
        return "no audit entries\n".to_string();
    }
    let cell = |e: &serde_json::Value, k: &str| match &e[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    let rows = entries
        .iter()
        .map(|e| {
            [
                "at",
                "key_id",
                "namespace",
                "server",
                "method",
                "tool",
                "outcome",
                "duration_ms",
            ]
            .map(|k| cell(e, k))
            .to_vec()
        })
        .collect();
    let mut out = aligned(
        &[
            "AT",
            "KEY",
            "NAMESPACE",
            "SERVER",
            "METHOD",
            "TOOL",
            "OUTCOME",
            "MS",
        ],
        rows,
    );
    if let Some(c) = next {
        out.push_str(&format!("more: --cursor {c}\n"));
    }
    out
}

/// `keyadm keys usage` as text: one line a tool, then the totals.
fn usage_table(usage: &serde_json::Value) -> String {
    let tools = usage["tools"].as_array().cloned().unwrap_or_default();
    if tools.is_empty() {
        return format!(
            "key {} made no calls in the period\n",
            usage["key_id"].as_str().unwrap_or("-")
        );
    }
    let n = |v: &serde_json::Value| v.as_f64().map_or("-".to_string(), |f| f.to_string());
    let rows = tools
        .iter()
        .map(|t| {
            vec![
                t["tool"].as_str().unwrap_or("-").to_string(),
                t["method"].as_str().unwrap_or("-").to_string(),
                n(&t["calls"]),
                n(&t["errors"]),
                n(&t["p50_ms"]),
                n(&t["p99_ms"]),
                n(&t["request_bytes"]),
                n(&t["response_bytes"]),
            ]
        })
        .collect();
    let mut out = aligned(
        &[
            "TOOL",
            "METHOD",
            "CALLS",
            "ERRORS",
            "P50 MS",
            "P99 MS",
            "BYTES IN",
            "BYTES OUT",
        ],
        rows,
    );
    let t = &usage["total"];
    out.push_str(&format!(
        "total: {} calls, {} errors, {} bytes in, {} bytes out\n",
        n(&t["calls"]),
        n(&t["errors"]),
        n(&t["request_bytes"]),
        n(&t["response_bytes"])
    ));
    out
}

/// `rate 20/s (burst 40), max concurrent none (no limit), daily calls default (no limit:
/// …)`: each limit as set, and where the default applies, what it is in this
/// configuration.
fn describe_limits(l: &KeyLimits, d: &Defaults) -> String {
    let rate = l.rate.describe(
        d.rate.as_ref().map(|r| r as &dyn std::fmt::Display),
        config::KEY_RATE,
    );
    let burst = match (l.burst, l.rate) {
        (Some(b), _) => format!(" (burst {b})"),
        (None, Setting::Default) => match (d.rate, d.burst) {
            (Some(_), Some(b)) => format!(" (burst {b})"),
            _ => String::new(),
        },
        (None, _) => String::new(),
    };
    let concurrent = l.max_concurrent.describe(
        d.max_concurrent
            .as_ref()
            .map(|n| n as &dyn std::fmt::Display),
        config::KEY_MAX_CONCURRENT,
    );
    // Daily quotas have no process default: `default` means none.
    let daily = match l.daily_calls {
        Setting::Default => format!("{} (no limit)", crate::model::limits::DEFAULT),
        other => other.describe(None, ""),
    };
    format!("rate {rate}{burst}, max concurrent {concurrent}, daily calls {daily}")
}

fn details(k: &KeyRecord, d: &Defaults) -> String {
    use crate::cli::printable;
    let dash = "-".to_string();
    format!(
        "id           {}\nname         {}\ndescription  {}\nscope        {}\nstate        {}\nnamespaces   {}\ncreated      {}\nupdated      {}\nlast used    {}\ncalls        {}\nexpires      {}\nlimits       {}\n",
        k.id,
        printable(&k.name),
        printable(k.description.as_deref().unwrap_or("-")),
        k.scope,
        k.state(),
        if k.namespaces.is_empty() {
            "* (all)".to_string()
        } else {
            printable(&k.namespaces.join(", ")).into_owned()
        },
        k.created_at,
        k.updated_at,
        k.last_used_at.as_ref().unwrap_or(&dash),
        k.calls,
        k.expires_at.as_ref().unwrap_or(&dash),
        describe_limits(&k.limits, d),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Invocation, UsageError> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(
            p("keys list --include-inactive --json").unwrap(),
            Invocation {
                command: Command::List {
                    include_inactive: true
                },
                json: true
            }
        );
        let c = p("keys create --name ci --scope admin --namespace a --namespace b --expires-in 7")
            .unwrap();
        assert_eq!(
            c.command,
            Command::Create(CreateArgs {
                name: "ci".into(),
                description: None,
                scope: Scope::Admin,
                namespaces: vec!["a".into(), "b".into()],
                expires_in_days: Some(7),
                limits: LimitsChange::default(),
            })
        );
        assert_eq!(
            p("keys delete abc").unwrap().command,
            Command::Delete {
                id: "abc".into(),
                confirm: false
            }
        );
        assert_eq!(p("status").unwrap().command, Command::Status);
        assert_eq!(p("migrate").unwrap().command, Command::Migrate);
        assert_eq!(p("").unwrap().command, Command::Help);
    }

    #[test]
    fn rejects_bad_usage_with_a_reason() {
        for (args, needle) in [
            ("keys create", "--name"),
            ("keys create --name a --scope root", "--scope"),
            ("keys create --name a --expires-in soon", "--expires-in"),
            ("keys create --name a --name b", "more than once"),
            ("keys show", "needs a key ID"),
            ("keys show a b", "one key ID"),
            ("keys list --confirm", "does not apply"),
            ("keys frobnicate", "frobnicate"),
            ("keys list --bogus", "--bogus"),
            ("frobnicate", "frobnicate"),
        ] {
            let e = p(args).expect_err(args);
            assert!(e.0.contains(needle), "{args}: {e}");
        }
    }
}
