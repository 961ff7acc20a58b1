//! keyadm's command line: every command and flag, checked into an [`Invocation`], and
//! `--help`. Hand-written like the other binaries' (see [`crate::cli`]): the grammar is
//! small, every error names the flag, and no parser crate is built for it.

use crate::cli::UsageError;
use crate::model::limits::{LimitsChange, Setting, parse_count_setting, parse_rate_setting};
use crate::store::audit::{Filter, When};
use crate::store::keys::Scope;

use super::namespaces::{self, NamespacesCommand};
use super::oauth::{self, OAuthCommand};
use super::servers::{self, ClientConfigArgs, ServersCommand};

/// The flags that set a key's limits.
const LIMIT_FLAGS: [&str; 4] = ["--rate", "--burst", "--max-concurrent", "--daily-calls"];

pub const HELP: &str = "\
keyadm — administer metamcp: API keys, servers, namespaces, the database schema

usage: keyadm [--database-url URL] [--data-dir DIR] [--config FILE] COMMAND
       keyadm COMMAND --help          that command's part of this help

commands:
  keys list [--include-inactive] [--json]
  keys create --name NAME [--description TEXT] [--scope admin|client]
              [--namespace NS]... [--expires-in DAYS] [LIMITS] [--json]
                         (each NS an existing namespace; none: every namespace)
  keys update ID LIMITS [--json]
  keys show ID [--json]
  keys activate ID [--json]
  keys inactivate ID [--json]
  keys delete ID --confirm [--json]
  keys rotate ID [--json]
  keys usage ID [--since 30d] [--json]
                         calls per tool, errors, p50/p99 and bytes (from the audit trail)
  audit [--since 24h] [--until TIME] [--key ID] [--server S] [--tool T] [--outcome O]
        [--parent CALL_ID] [--limit N] [--cursor C] [--ids] [--json]
                         the audit trail, newest first (TIME: RFC 3339 or a duration ago;
                         ID: a key's id or name, as for keys show; CALL_ID: a run's
                         call_id, for its inner calls; keys by name, --ids: by id)
  servers import FILE [--dry-run] [--prune] [--replace] [--namespace NS] [--source S]
                 [--json]
                         bring in an mcpServers file (Claude, Cursor, VS Code, Windsurf):
                         one transaction, idempotent; --prune removes what an earlier
                         import of the same source (default: the file's path) created
                         and the file no longer names; a server it did not create
                         (registered by hand) is changed only with --replace
  servers export [--namespace NS]
                         the registry as an mcpServers file (secrets masked, ${VAR} kept)
  servers list [--json] | servers show ID [--json]
  servers add NAME (--command CMD [--arg A]... [--env K=V]... [--cwd DIR]
                   | --url URL [--type http|sse] [--header K=V]...) [--inactive] [--json]
  servers set ID ([--command C] [--arg A]... [--env K=V]... [--cwd DIR] [--url URL]
                 [--header K=V]... [--timeout-ms N] | --file BODY.json) [--json]
                         changes only what is given, like PUT /api/v1/mcp/servers/{id}
                         (--arg, --env, --header: the whole list; BODY.json: PUT's body)
  servers disable ID [--json] | servers enable ID [--json]
                         stop a server on every gateway (its tools leave every list), or
                         start it again
  servers restart ID [--json]
                         stop and start an active server on every gateway (a stdio
                         server's process is started anew)
  servers remove ID --confirm [--json]
  servers authorize ID [--json]
                         connect an OAuth server's shared account: prints the URL to
                         open (METAMCP_PUBLIC_URL is where it comes back) and waits
  namespaces list [--json] | namespaces show NAME [--json]
  namespaces add NAME [--server S]... [NAMESPACE FLAGS] [--json]
  namespaces add NAME --file BODY.json [--json]
                         makes a namespace: /mcp/NAME serves its servers' tools
                         (BODY.json: the body of POST /api/v1/namespaces; -: stdin)
  namespaces set NAME ([--server S]... [NAMESPACE FLAGS] | --file BODY.json) [--json]
                         changes only what is given, like PUT (--server: the whole list)
  namespaces remove NAME --confirm [--json]
  policies list [--json] | policies remove NAME [--json]
  policies add NAME FILE [--namespace NS] [--json]
                         policies by identity in CEL (FILE: a JSON list of rules; -: stdin)
  policies check PRINCIPAL TOOL [--namespace NS] [--arguments JSON] [--url URL] [--json]
                         the running gateway's dry run of the call: allow, deny or
                         confirm, and which policy or phase decided
  connections list [--server S] [--key ID] [--json] | connections revoke SERVER [--key ID] [--json]
                         the upstream accounts the gateway holds (never their tokens);
                         revoke one, at its authorization server too when it offers that
  client-config (--key KEY | --create-key NAME) [--namespace NS] [--url URL]
                [--format claude|cursor|vscode|json] [--bridge]
                         the entry to paste into an MCP client (--bridge: the stdio
                         relay `mcpc bridge`, for clients that run only stdio servers)
  oauth block (--sub S | --client-id C) [--issuer URL] [--reason TEXT] [--json]
  oauth unblock (--sub S | --client-id C) [--issuer URL] [--json]
  oauth blocks [--json]  refuse an OAuth identity's tokens on every gateway (within a
                         second), take it back, list what is blocked
  reviews list [--json]  tool and prompt definitions held for review (changed, new, or
                         flagged by screening), with what changed
  reviews approve SERVER [NAME] [--prompt] [--json] | reviews reject SERVER [NAME] [--prompt] [--json]
                         re-pin them (NAME: a tool, or with --prompt a prompt; every held
                         item of SERVER without NAME), or keep the old pin (the offered
                         definition stays held until the server offers another)
  registry search QUERY [--registry URL] [--limit N] [--cursor C] [--json]
                         search an MCP registry (METAMCP_REGISTRY_URL: the official one)
  registry add NAME [--version V] [--as SERVER] [--namespace NS] [--env K=V]...
      [--arg K=V]... [--header K=V]... [--registry URL] [--force] [--allow-private]
                         install a server from an entry: its remote, else its package
                         (npx, uvx, docker, dnx); every value it needs and was not given
                         is named; --force: a deleted or deprecated entry, or a runner
                         not on PATH yet; --allow-private: a remote at a loopback or
                         private address (its upgrades keep it)
  registry outdated [--json]
                         installed servers whose registry has another latest version
  registry upgrade SERVER [--version V] [--env K=V]... [--force] [--allow-private]
                         install the new version; its changed tool definitions are held
                         for review (even under tool_changes: accept)
  migrate [--json]       apply pending schema migrations
  status [--json]        database, schema and key counts

LIMITS (each per gateway process; `none` removes the key's limit: no limit at all;
`default` returns it to the gateway's METAMCP_KEY_* default):
  --rate N/s|N/m         requests per second or minute (a token bucket); none or default
                         also clears the key's burst
  --burst N              requests at once before the rate applies (default: N of the rate)
  --max-concurrent N     MCP requests in flight at once
  --daily-calls N        tool calls per UTC day

NAMESPACE FLAGS (the fields of the REST body; running gateways apply a change at once):
  --description D        '' clears it
  --tool-prefix always|never
                         tools as <server>__<tool> (always, the default) or by their own name
  --tool-search off|on|auto
                         tools/list gives every tool (off), or search_tools and call_tool
                         (on), or those once the full list passes 64 KiB (auto, the default)
  --code-mode off|on     on: tools/list also gives run_code, a script calling tools as
                         functions in one round trip, bounded (default off)
  --validate-arguments true|false
                         check each call's arguments against the tool's inputSchema
                         (default false)
  --auth required|none   none opens /mcp/NAME without credentials (default required)
  --tools-default enabled|disabled
                         enabled (the default): every tool of the servers but those
                         switched off; disabled: an allow-list, only the tools --allow
                         (or the tools field) names, never a tool a server adds later
  --allow TOOL           allow a tool (<server>__<tool>; repeated): an override
                         {\"enabled\": true} (set keeps the other overrides)
  --disallow TOOL        take a tool off the allow-list, or switch it off (repeated):
                         an override {\"enabled\": false}
  --guardrails JSON      external guardrails, the REST field's array ('[]' removes them):
                         '[{\"url\": \"http://127.0.0.1:8088/\", \"on\": [\"result\"]}]'

The API key is printed once, by `keys create` and `keys rotate`; store it then.
Database settings are the gateway's: DATABASE_URL, or the embedded cluster the gateway
created under the data directory (--data-dir, else METAMCP_DATA_DIR, else
$XDG_DATA_HOME/metamcp, else ~/.local/share/metamcp); keyadm never creates one.";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Help,
    /// `keyadm COMMAND --help`: the help of the commands starting with that word.
    HelpFor(String),
    List {
        include_inactive: bool,
    },
    Create(CreateArgs),
    Show(String),
    Activate(String),
    Inactivate(String),
    Delete {
        id: String,
        confirm: bool,
    },
    Update {
        id: String,
        limits: LimitsChange,
    },
    Rotate(String),
    Usage {
        id: String,
        since: When,
    },
    /// The audit trail; `true`: keys by id rather than by name (`--ids`).
    Audit(Filter, bool),
    Migrate,
    Status,
    Servers(ServersCommand),
    Namespaces(NamespacesCommand),
    Policies(super::policies::PoliciesCommand),
    ClientConfig(ClientConfigArgs),
    OAuth(OAuthCommand),
    Reviews(super::reviews::ReviewsCommand),
    Connections(super::upstream::ConnectionsCommand),
    Registry(super::registry::RegistryCommand),
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
    let help = args.iter().any(|a| a == "-h" || a == "--help");
    if !help && let Some(command) = subcommand(args)? {
        return Ok(Invocation {
            command,
            json: args.iter().any(|a| a == "--json"),
        });
    }
    let Read {
        words,
        flags,
        json,
        help,
    } = read_flags(args)?;
    if help {
        // `keyadm keys --help`: that command's part of the help (all of it for a word
        // that starts no command).
        let command = match args.iter().find(|a| !a.starts_with('-')) {
            Some(topic) => Command::HelpFor(topic.clone()),
            None => Command::Help,
        };
        return Ok(Invocation { command, json });
    }
    let usage = |m: String| Err(UsageError(m));
    let command = match words.as_slice() {
        [] | ["help"] => Command::Help,
        ["migrate"] => {
            flags.allowed(&[])?;
            Command::Migrate
        }
        ["status"] => {
            flags.allowed(&[])?;
            Command::Status
        }
        ["keys", "list"] => {
            flags.allowed(&["--include-inactive"])?;
            Command::List {
                include_inactive: flags.has("--include-inactive"),
            }
        }
        ["keys", "create"] => Command::Create(create_args(&flags)?),
        ["keys", "update", rest @ ..] => {
            flags.allowed(&LIMIT_FLAGS)?;
            let id = one_id(rest, "update")?;
            let limits = flags.limits()?;
            if limits.is_empty() {
                return usage(format!(
                    "keys update needs at least one of {}",
                    LIMIT_FLAGS.join(", ")
                ));
            }
            Command::Update { id, limits }
        }
        ["keys", "show", rest @ ..] => {
            flags.allowed(&[])?;
            Command::Show(one_id(rest, "show")?)
        }
        ["keys", "activate", rest @ ..] => {
            flags.allowed(&[])?;
            Command::Activate(one_id(rest, "activate")?)
        }
        ["keys", "inactivate", rest @ ..] => {
            flags.allowed(&[])?;
            Command::Inactivate(one_id(rest, "inactivate")?)
        }
        ["keys", "delete", rest @ ..] => {
            flags.allowed(&["--confirm"])?;
            Command::Delete {
                id: one_id(rest, "delete")?,
                confirm: flags.has("--confirm"),
            }
        }
        ["keys", "rotate", rest @ ..] => {
            flags.allowed(&[])?;
            Command::Rotate(one_id(rest, "rotate")?)
        }
        ["keys", "usage", rest @ ..] => {
            flags.allowed(&["--since"])?;
            let since = match flags.value("--since") {
                Some(v) => When::parse(v).map_err(|e| UsageError(format!("--since: {e}")))?,
                None => When::Ago(std::time::Duration::from_secs(30 * 86_400)),
            };
            Command::Usage {
                id: one_id(rest, "usage")?,
                since,
            }
        }
        ["audit"] => Command::Audit(audit_filter(&flags)?, flags.has("--ids")),
        ["keys"] => return usage(
            "keys needs a subcommand: list, create, update, show, activate, inactivate, delete, rotate, usage"
                .to_string(),
        ),
        ["keys", other, ..] => return usage(format!("unknown keys subcommand {other:?}")),
        [other, ..] => return usage(format!("unknown command {other:?}")),
    };
    Ok(Invocation { command, json })
}

/// The commands with parsers of their own (`servers`, `namespaces`, `oauth`,
/// `connections`, `client-config`), given the other arguments; `None` for the others.
fn subcommand(args: &[String]) -> Result<Option<Command>, UsageError> {
    let Some(i) = args.iter().position(|a| !a.starts_with('-')) else {
        return Ok(None);
    };
    let rest = || -> Vec<String> { args[..i].iter().chain(&args[i + 1..]).cloned().collect() };
    Ok(Some(match args[i].as_str() {
        "servers" => Command::Servers(servers::parse_servers(&rest())?),
        "namespaces" => Command::Namespaces(namespaces::parse_namespaces(&rest())?),
        "oauth" => Command::OAuth(oauth::parse_oauth(&rest())?),
        "reviews" => Command::Reviews(super::reviews::parse(&rest())?),
        "policies" => Command::Policies(super::policies::parse_policies(&rest())?),
        "connections" => Command::Connections(super::upstream::parse(&rest())?),
        "registry" => Command::Registry(super::registry::parse(&rest())?),
        "client-config" => Command::ClientConfig(servers::parse_client_config(&rest())?),
        _ => return Ok(None),
    }))
}

/// A key, audit or schema command as given.
struct Read<'a> {
    words: Vec<&'a str>,
    flags: Flags<'a>,
    json: bool,
    /// `-h` or `--help` (the rest is not read).
    help: bool,
}

/// The words and flags of a key, audit or schema command.
fn read_flags(args: &[String]) -> Result<Read<'_>, UsageError> {
    let mut json = false;
    let mut words: Vec<&str> = Vec::new();
    let mut flags: Vec<(&str, Option<&str>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "--json" => json = true,
            "-h" | "--help" => {
                return Ok(Read {
                    words,
                    flags: Flags(flags),
                    json,
                    help: true,
                });
            }
            "--include-inactive" | "--confirm" | "--ids" => flags.push((a, None)),
            "--name" | "--description" | "--scope" | "--namespace" | "--expires-in" | "--rate"
            | "--burst" | "--max-concurrent" | "--daily-calls" | "--since" | "--until"
            | "--key" | "--server" | "--tool" | "--outcome" | "--limit" | "--cursor"
            | "--parent" => {
                let Some(v) = args.get(i + 1) else {
                    return Err(UsageError(format!("{a} needs a value")));
                };
                flags.push((a, Some(v.as_str())));
                i += 1;
            }
            _ if a.starts_with('-') => return Err(UsageError(format!("unknown flag {a}"))),
            _ => words.push(a),
        }
        i += 1;
    }
    Ok(Read {
        words,
        flags: Flags(flags),
        json,
        help: false,
    })
}

/// A command's flags, in the order given (a valueless flag has `None`).
struct Flags<'a>(Vec<(&'a str, Option<&'a str>)>);

impl<'a> Flags<'a> {
    /// Refuses a flag outside `ok`.
    fn allowed(&self, ok: &[&str]) -> Result<(), UsageError> {
        match self.0.iter().find(|(f, _)| !ok.contains(f)) {
            Some((f, _)) => Err(UsageError(format!("{f} does not apply to this command"))),
            None => Ok(()),
        }
    }

    fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|(f, _)| *f == flag)
    }

    /// Every value given to `flag`.
    fn all(&self, flag: &'static str) -> impl DoubleEndedIterator<Item = &'a str> + '_ {
        self.0
            .iter()
            .filter(move |(n, _)| *n == flag)
            .filter_map(|(_, v)| *v)
    }

    /// The last value given to `flag`.
    fn value(&self, flag: &'static str) -> Option<&'a str> {
        self.all(flag).next_back()
    }

    /// Refuses `flags` given more than once.
    fn once(&self, flags: &[&'static str]) -> Result<(), UsageError> {
        match flags.iter().find(|f| self.all(f).count() > 1) {
            Some(f) => Err(UsageError(format!("{f} given more than once"))),
            None => Ok(()),
        }
    }

    /// The limit flags (`--rate`, `--burst`, `--max-concurrent`, `--daily-calls`).
    fn limits(&self) -> Result<LimitsChange, UsageError> {
        self.once(&LIMIT_FLAGS)?;
        let flag = |f: &str, e: String| UsageError(format!("{f}: {e}"));
        let count = |f: &'static str, max: u64| {
            self.all(f)
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
            rate: self
                .all("--rate")
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
    }
}

/// A command's one key id.
fn one_id(rest: &[&str], cmd: &str) -> Result<String, UsageError> {
    match rest {
        [id] => Ok(id.to_string()),
        [] => Err(UsageError(format!("keys {cmd} needs a key ID"))),
        _ => Err(UsageError(format!("keys {cmd} takes one key ID"))),
    }
}

/// `keys create`'s flags.
fn create_args(flags: &Flags<'_>) -> Result<CreateArgs, UsageError> {
    flags.allowed(&[
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
    flags.once(&["--name", "--description", "--scope", "--expires-in"])?;
    let Some(name) = flags.all("--name").next() else {
        return Err(UsageError("keys create needs --name".to_string()));
    };
    let scope = match flags.all("--scope").next() {
        None => Scope::Client,
        Some(s) => Scope::parse(s)
            .ok_or_else(|| UsageError(format!("--scope must be admin or client, not {s:?}")))?,
    };
    let expires_in_days = match flags.all("--expires-in").next() {
        None => None,
        Some(d) => Some(d.parse::<u32>().map_err(|_| {
            UsageError(format!(
                "--expires-in takes a whole number of days, not {d:?}"
            ))
        })?),
    };
    Ok(CreateArgs {
        name: name.to_string(),
        description: flags.all("--description").next().map(String::from),
        scope,
        namespaces: flags.all("--namespace").map(String::from).collect(),
        expires_in_days,
        limits: flags.limits()?,
    })
}

/// `audit`'s flags: the filter.
fn audit_filter(flags: &Flags<'_>) -> Result<Filter, UsageError> {
    flags.allowed(&[
        "--since",
        "--until",
        "--key",
        "--server",
        "--tool",
        "--outcome",
        "--limit",
        "--cursor",
        "--parent",
        "--ids",
    ])?;
    let when = |flag: &'static str| -> Result<Option<When>, UsageError> {
        flags
            .value(flag)
            .map(|v| When::parse(v).map_err(|e| UsageError(format!("{flag}: {e}"))))
            .transpose()
    };
    let limit = flags
        .value("--limit")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| UsageError(format!("--limit: not a number: {v:?}")))
        })
        .transpose()?;
    let filter = Filter {
        key: flags.value("--key").map(str::to_string),
        server: flags.value("--server").map(str::to_string),
        tool: flags.value("--tool").map(str::to_string),
        outcome: flags.value("--outcome").map(str::to_string),
        since: when("--since")?,
        until: when("--until")?,
        limit,
        cursor: flags.value("--cursor").map(str::to_string),
        parent: flags.value("--parent").map(str::to_string),
    };
    // `--key` takes a key's id or its name, as `keys show` does: the name is resolved
    // against the database when the command runs.
    Filter {
        key: None,
        ..filter.clone()
    }
    .validate()
    .map_err(|(field, m)| UsageError(format!("--{field}: {m}")))?;
    Ok(filter)
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
        assert_eq!(
            p("--json namespaces show team").unwrap(),
            Invocation {
                command: Command::Namespaces(NamespacesCommand::Show("team".into())),
                json: true
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
