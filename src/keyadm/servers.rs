//! `keyadm servers …` (the registry from the command line, with the REST API's own
//! validation) and `keyadm client-config` (the entry a user pastes into an MCP client).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::cli::UsageError;
use crate::config::Config;
use crate::model::Server;
use crate::model::import;
use crate::store::import::{ImportError, Options, Report};
use crate::store::keys::{KeyStore, NewKey, Scope};
use crate::store::registry::Registry;
use crate::store::server_status::Seen;

use super::KeyadmError;
use super::changes::Trail;
pub(super) use super::line::{Line, pairs};

/// A `servers` subcommand.
#[derive(Debug, Clone, PartialEq)]
pub enum ServersCommand {
    Import {
        file: String,
        options: Options,
    },
    Export {
        namespace: Option<String>,
    },
    List,
    Show(String),
    /// The registry body built from the flags.
    Add(Value),
    Remove {
        id: String,
        confirm: bool,
    },
    /// Connects an OAuth server's shared account: prints the URL, waits for the callback.
    Authorize(String),
    /// `set`, `enable`, `disable`, `restart` ([`super::server_change`]).
    Change(super::server_change::Change),
}

/// How `client-config` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Claude Code's `.mcp.json` (and `claude mcp add-json`): `mcpServers`, `type: http`.
    Claude,
    /// Cursor and Windsurf: `mcpServers` with `url` and `headers`.
    Cursor,
    /// VS Code's `.vscode/mcp.json`: `servers`, `type: http`.
    Vscode,
    /// Everything a script needs: url, headers, and the stdio bridge command.
    Json,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfigArgs {
    pub key: Option<String>,
    pub create_key: Option<String>,
    pub namespace: Option<String>,
    pub url: Option<String>,
    pub format: Format,
    /// Print the stdio bridge (`mcpc bridge`) entry, for clients that run only stdio
    /// servers (Claude Desktop).
    pub bridge: bool,
}

/// `servers …` after the word `servers`.
pub fn parse_servers(args: &[String]) -> Result<ServersCommand, UsageError> {
    let line = Line::read(
        args,
        &[
            "--dry-run",
            "--prune",
            "--replace",
            "--confirm",
            "--inactive",
        ],
        &[
            "--namespace",
            "--source",
            "--name",
            "--command",
            "--arg",
            "--env",
            "--cwd",
            "--url",
            "--type",
            "--header",
            "--file",
            "--timeout-ms",
        ],
    )?;
    let allowed = |ok: &[&str]| match line.flags.iter().find(|(f, _)| !ok.contains(f)) {
        Some((f, _)) => Err(UsageError(format!("{f} does not apply to this command"))),
        None => Ok(()),
    };
    let one_word = |rest: &[&str], cmd: &str, what: &str| match rest {
        [w] => Ok(w.to_string()),
        [] => Err(UsageError(format!("servers {cmd} needs {what}"))),
        _ => Err(UsageError(format!("servers {cmd} takes one {what}"))),
    };
    Ok(match line.words.as_slice() {
        ["import", rest @ ..] => {
            allowed(&[
                "--dry-run",
                "--prune",
                "--replace",
                "--namespace",
                "--source",
            ])?;
            let file = one_word(rest, "import", "a FILE")?;
            let source = match line.at_most_one("--source")? {
                Some(s) => s.to_string(),
                None => std::path::absolute(&file)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| file.clone()),
            };
            ServersCommand::Import {
                file,
                options: Options {
                    source,
                    dry_run: line.has("--dry-run"),
                    prune: line.has("--prune"),
                    namespace: line.at_most_one("--namespace")?.map(String::from),
                    replace: line.has("--replace"),
                },
            }
        }
        ["export"] => {
            allowed(&["--namespace"])?;
            ServersCommand::Export {
                namespace: line.at_most_one("--namespace")?.map(String::from),
            }
        }
        ["list"] => {
            allowed(&[])?;
            ServersCommand::List
        }
        ["show", rest @ ..] => {
            allowed(&[])?;
            ServersCommand::Show(one_word(rest, "show", "a server ID or name")?)
        }
        ["remove", rest @ ..] => {
            allowed(&["--confirm"])?;
            ServersCommand::Remove {
                id: one_word(rest, "remove", "a server ID or name")?,
                confirm: line.has("--confirm"),
            }
        }
        ["authorize", rest @ ..] => {
            allowed(&[])?;
            ServersCommand::Authorize(one_word(rest, "authorize", "a server ID or name")?)
        }
        ["add", rest @ ..] => add(rest, &line, allowed)?,
        [verb @ ("set" | "enable" | "disable" | "restart"), rest @ ..] => {
            ServersCommand::Change(super::server_change::parse(verb, rest, &line)?)
        }
        [] => {
            return Err(UsageError(
                "servers needs a subcommand: import, export, list, show, add, set, enable, \
                 disable, restart, remove"
                    .into(),
            ));
        }
        [other, ..] => return Err(UsageError(format!("unknown servers subcommand {other:?}"))),
    })
}

/// `servers add NAME …`: the registry body from the flags.
fn add(
    rest: &[&str],
    line: &Line<'_>,
    allowed: impl Fn(&[&str]) -> Result<(), UsageError>,
) -> Result<ServersCommand, UsageError> {
    allowed(&[
        "--name",
        "--command",
        "--arg",
        "--env",
        "--cwd",
        "--url",
        "--type",
        "--header",
        "--inactive",
    ])?;
    let name = match (rest, line.at_most_one("--name")?) {
        ([n], None) => n.to_string(),
        ([], Some(n)) => n.to_string(),
        _ => return Err(UsageError("servers add needs one NAME (or --name)".into())),
    };
    let mut body = json!({"name": name});
    match (line.at_most_one("--command")?, line.at_most_one("--url")?) {
        (Some(c), None) => {
            body["protocol"] = json!("stdio");
            body["command"] = json!(c);
            body["args"] = json!(line.all("--arg"));
            body["env"] = Value::Object(pairs("--env", &line.all("--env"))?);
            if let Some(cwd) = line.at_most_one("--cwd")? {
                body["cwd"] = json!(cwd);
            }
        }
        (None, Some(u)) => {
            let protocol = match line.at_most_one("--type")? {
                None | Some("http" | "streamable-http") => "http",
                Some("sse") => "sse",
                Some(t) => {
                    return Err(UsageError(format!("--type must be http or sse, not {t:?}")));
                }
            };
            body["protocol"] = json!(protocol);
            body["url"] = json!(u);
            body["headers"] = Value::Object(pairs("--header", &line.all("--header"))?);
        }
        _ => {
            return Err(UsageError(
                "servers add needs --command (stdio) or --url (http, sse)".into(),
            ));
        }
    }
    if line.has("--inactive") {
        body["is_active"] = json!(false);
    }
    Ok(ServersCommand::Add(body))
}

/// `client-config …` after the word.
pub fn parse_client_config(args: &[String]) -> Result<ClientConfigArgs, UsageError> {
    let line = Line::read(
        args,
        &["--bridge"],
        &["--key", "--create-key", "--namespace", "--url", "--format"],
    )?;
    if let Some(w) = line.words.first() {
        return Err(UsageError(format!("client-config takes no word {w:?}")));
    }
    let format = match line.at_most_one("--format")? {
        None | Some("claude") => Format::Claude,
        Some("cursor" | "windsurf") => Format::Cursor,
        Some("vscode") => Format::Vscode,
        Some("json") => Format::Json,
        Some(f) => {
            return Err(UsageError(format!(
                "--format must be claude, cursor, vscode or json, not {f:?}"
            )));
        }
    };
    let args = ClientConfigArgs {
        key: line.at_most_one("--key")?.map(String::from),
        create_key: line.at_most_one("--create-key")?.map(String::from),
        namespace: line.at_most_one("--namespace")?.map(String::from),
        url: line.at_most_one("--url")?.map(String::from),
        format,
        bridge: line.has("--bridge"),
    };
    if args.key.is_some() == args.create_key.is_some() {
        return Err(UsageError(
            "client-config needs --key KEY or --create-key NAME (one of them)".into(),
        ));
    }
    Ok(args)
}

fn report_table(r: &Report) -> String {
    use crate::cli::printable;
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            printable(&v.join(", ")).into_owned()
        }
    };
    let mut out = String::new();
    if r.dry_run {
        out.push_str("dry run: nothing was written\n");
    }
    for (label, v) in [
        ("created", &r.created),
        ("updated", &r.updated),
        ("unchanged", &r.unchanged),
        ("removed", &r.removed),
    ] {
        out.push_str(&format!("{label:<10} {}\n", list(v)));
    }
    for n in &r.renamed {
        out.push_str(&format!(
            "renamed    {:?} -> {} ({})\n",
            n.from,
            printable(&n.to),
            printable(&n.path)
        ));
    }
    if let Some(ns) = &r.namespace {
        out.push_str(&format!(
            "namespace  {} {}\n",
            ns["name"].as_str().unwrap_or_default(),
            ns["action"].as_str().unwrap_or_default()
        ));
    }
    for p in &r.ignored {
        out.push_str(&format!(
            "ignored    {}: {}\n",
            printable(&p.path),
            printable(&p.message)
        ));
    }
    for p in &r.problems {
        out.push_str(&format!(
            "problem    {}: {}\n",
            printable(&p.path),
            printable(&p.message)
        ));
    }
    out
}

/// An import that wrote nothing because of problems: the report goes to stdout with
/// `--json` (and as the error's text without).
fn rejected(report: &Report, json: bool) -> KeyadmError {
    KeyadmError::Rejected {
        stdout: if json {
            super::line(json!(report))
        } else {
            String::new()
        },
        message: format!(
            "the file has {} problem(s); nothing was written\n{}",
            report.problems.len(),
            report
                .problems
                .iter()
                .map(|p| {
                    format!(
                        "  {}: {}",
                        crate::cli::printable(&p.path),
                        crate::cli::printable(&p.message)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn server_table(servers: &[Server], seen: &HashMap<uuid::Uuid, Seen>) -> String {
    let rows = servers
        .iter()
        .map(|s| {
            let x = seen.get(&s.id);
            vec![
                s.name.clone(),
                s.protocol.as_str().to_string(),
                if s.is_active { "active" } else { "inactive" }.to_string(),
                match (s.is_active, x) {
                    (false, _) => "stopped",
                    (true, Some(x)) => x.status.as_str(),
                    (true, None) => "unknown",
                }
                .to_string(),
                x.map_or(String::new(), |x| x.tools.to_string()),
                x.map_or(String::new(), |x| x.restarts.to_string()),
                x.and_then(|x| x.last_error.clone())
                    .map(|e| e.chars().take(80).collect())
                    .unwrap_or_default(),
                s.url
                    .clone()
                    .or_else(|| {
                        s.command.as_ref().map(|c| {
                            std::iter::once(c.as_str())
                                .chain(s.args.iter().map(String::as_str))
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                    })
                    .unwrap_or_default(),
            ]
        })
        .collect();
    super::aligned(
        &[
            "NAME",
            "PROTOCOL",
            "STATE",
            "STATUS",
            "TOOLS",
            "RESTARTS",
            "LAST ERROR",
            "TARGET",
        ],
        rows,
    )
}

pub(super) async fn servers_command(
    registry: &Registry,
    trail: &Trail,
    cmd: &ServersCommand,
    json: bool,
) -> Result<String, KeyadmError> {
    match cmd {
        ServersCommand::Import { file, options } => {
            let bytes = std::fs::read(file)
                .map_err(|e| KeyadmError::Input(format!("cannot read {file}: {e}")))?;
            let parsed = match import::read(&bytes) {
                Ok(p) => p,
                Err(problems) => {
                    return Err(rejected(
                        &Report {
                            problems,
                            dry_run: options.dry_run,
                            source: options.source.clone(),
                            ..Report::default()
                        },
                        json,
                    ));
                }
            };
            let r = match registry.import(&parsed, options).await {
                Ok(r) => r,
                Err(ImportError::Problems(r)) => return Err(rejected(&r, json)),
                Err(ImportError::Store(e)) => return Err(KeyadmError::Registry(e)),
            };
            trail.record(registry.pool(), &r.audited()).await;
            Ok(if json {
                super::line(json!(r))
            } else {
                report_table(&r)
            })
        }
        ServersCommand::Export { namespace } => {
            let servers = registry.list_servers().await?;
            let only = match namespace {
                Some(ns) => Some(registry.get_namespace(ns).await?.servers),
                None => None,
            };
            let picked = servers.iter().filter(|s| {
                only.as_ref()
                    .is_none_or(|o| o.iter().any(|n| n.eq_ignore_ascii_case(&s.name)))
            });
            let doc = import::export(picked);
            Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ))
        }
        ServersCommand::List => {
            let servers = registry.list_servers().await?;
            let seen = seen(registry).await;
            Ok(if json {
                super::line(Value::Array(
                    servers.iter().map(|s| with_seen(s, &seen)).collect(),
                ))
            } else {
                server_table(&servers, &seen)
            })
        }
        ServersCommand::Show(id) => {
            let s = registry.get_server(id).await?;
            let v = with_seen(&s, &seen(registry).await);
            Ok(if json {
                super::line(v)
            } else {
                format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
            })
        }
        ServersCommand::Add(body) => {
            let s = registry.create_server(body).await?;
            trail
                .record(registry.pool(), &[("server.create", s.name.as_str())])
                .await;
            Ok(if json {
                super::line(strip_status(s.public_json("")))
            } else {
                format!(
                    "added server {} ({}, id {})\n",
                    s.name,
                    s.protocol.as_str(),
                    s.id
                )
            })
        }
        ServersCommand::Change(c) => super::server_change::run(registry, trail, c, json).await,
        ServersCommand::Authorize(_) => Err(KeyadmError::Input(
            "servers authorize runs with the vault (keyadm's own dispatch)".into(),
        )),
        ServersCommand::Remove { id, confirm } => {
            if !confirm {
                registry.get_server(id).await?;
                return Err(KeyadmError::NotConfirmed(format!("server {id}")));
            }
            let s = registry.delete_server(id).await?;
            trail
                .record(registry.pool(), &[("server.delete", s.name.as_str())])
                .await;
            Ok(if json {
                super::line(json!({"id": s.id, "name": s.name, "deleted": true}))
            } else {
                format!("removed server {}\n", s.name)
            })
        }
    }
}

/// keyadm does not know a running gateway's status: the field is left out.
fn strip_status(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("status");
    }
    v
}

/// What the gateways last saw of each server (`store::server_status`); none when it
/// cannot be read.
async fn seen(registry: &Registry) -> HashMap<uuid::Uuid, Seen> {
    crate::store::server_status::latest(registry.pool())
        .await
        .unwrap_or_default()
}

/// A server's object with what a gateway last saw of it: `status` (`unknown` when no
/// gateway runs it), `last_error`, `restarts`, `tools`, and when and by which replica.
fn with_seen(s: &Server, seen: &HashMap<uuid::Uuid, Seen>) -> Value {
    let mut v = strip_status(s.public_json(""));
    match seen.get(&s.id) {
        Some(x) => {
            v["status"] = json!(x.status);
            v["last_error"] = json!(x.last_error);
            v["restarts"] = json!(x.restarts);
            v["tools"] = json!(x.tools);
            v["seen"] = json!({"replica": x.replica, "at": x.at as i64});
        }
        None => v["status"] = json!("unknown"),
    }
    // As REST says: an inactive server is stopped, whatever a replica last wrote.
    if !s.is_active {
        v["status"] = json!("stopped");
    }
    v
}

/// The URL of the gateway's MCP endpoint: `--url` (a base or the endpoint itself), else
/// the configured listen address.
/// The gateway's MCP URL for the entry: `--url`, else `METAMCP_PUBLIC_URL`, else the
/// address the gateway running on this data directory bound, else `METAMCP_LISTEN`
/// (refused when its port is 0: nothing knows which port that will be).
fn endpoint(config: &Config, args: &ClientConfigArgs) -> Result<String, KeyadmError> {
    let given = args.url.clone().or_else(|| config.public_url.clone());
    let listen = match given {
        Some(_) => config.listen,
        None => match crate::app::address::read(&config.data_dir) {
            Some(running) => running,
            None if config.listen.port() == 0 => {
                return Err(KeyadmError::Input(format!(
                    "METAMCP_LISTEN is {} (port 0: the gateway picks its port when it starts) \
                     and no gateway runs on {}: say where clients reach it with --url URL",
                    config.listen,
                    config.data_dir.display()
                )));
            }
            None => config.listen,
        },
    };
    Ok(endpoint_at(listen, given.as_deref(), args))
}

fn endpoint_at(listen: std::net::SocketAddr, url: Option<&str>, args: &ClientConfigArgs) -> String {
    let base = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let addr = listen;
            let host = if addr.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else if addr.is_ipv6() {
                format!("[{}]", addr.ip())
            } else {
                addr.ip().to_string()
            };
            format!("http://{host}:{}", addr.port())
        }
    };
    let base = base
        .strip_suffix("/mcp")
        .map(str::to_string)
        .or_else(|| {
            args.namespace
                .as_ref()
                .and_then(|ns| base.strip_suffix(&format!("/mcp/{ns}")).map(str::to_string))
        })
        .unwrap_or(base);
    match &args.namespace {
        Some(ns) => format!("{base}/mcp/{ns}"),
        None => format!("{base}/mcp"),
    }
}

pub(super) async fn client_config(
    config: &Config,
    keys: &KeyStore,
    registry: &crate::store::registry::Registry,
    trail: &Trail,
    args: &ClientConfigArgs,
) -> Result<String, KeyadmError> {
    // An entry for a namespace that does not exist would only fail in the client.
    if let Some(ns) = &args.namespace {
        registry.get_namespace(ns).await.map_err(|_| {
            KeyadmError::Input(format!(
                "no namespace {ns:?}: `keyadm namespaces add {ns} --server S` creates one \
                 (`keyadm namespaces list` shows those there are)"
            ))
        })?;
    }
    let url = endpoint(config, args)?;
    let (key, key_id) = match (&args.key, &args.create_key) {
        (Some(text), _) => {
            // A key that would not work is refused here, not in the user's client.
            let verified = keys.verify(text).await.map_err(|e| {
                KeyadmError::Input(format!("the key does not work: {}", e.reason()))
            })?;
            if verified.scope == Scope::Admin {
                eprintln!(
                    "keyadm: warning: this is an admin key: whoever holds this entry can \
                     change the gateway (register servers, make keys). A client key is safer: \
                     --create-key NAME"
                );
            }
            (text.clone(), verified.id)
        }
        (None, Some(name)) => {
            let issued = keys
                .create(NewKey {
                    name: name.clone(),
                    description: Some("created by keyadm client-config".into()),
                    scope: Scope::Client,
                    namespaces: args.namespace.iter().cloned().collect(),
                    expires_in_days: None,
                    limits: Default::default(),
                })
                .await?;
            trail.key(keys, "key.create", &issued.id.to_string()).await;
            eprintln!(
                "keyadm: created client key {} for this entry (shown only in it)",
                issued.id
            );
            (issued.api_key, issued.id)
        }
        (None, None) => {
            return Err(KeyadmError::Input("--key or --create-key is needed".into()));
        }
    };
    let name = match &args.namespace {
        Some(ns) => format!("metamcp-{ns}"),
        None => "metamcp".to_string(),
    };
    let headers = json!({"Authorization": format!("Bearer {key}")});
    let (mcpc, warning) = super::bridge_command::mcpc_command();
    if let (true, Some(w)) = (args.bridge, warning) {
        eprintln!("keyadm: warning: {w}");
    }
    let bridge = json!({
        "command": mcpc,
        "args": ["bridge", "--url", url],
        "env": {"METAMCP_KEY": key},
    });
    let entry = |kind: Option<&str>| {
        if args.bridge {
            let mut b = bridge.clone();
            if kind.is_some() {
                b["type"] = json!("stdio");
            }
            return b;
        }
        let mut e = Map::new();
        if let Some(k) = kind {
            e.insert("type".into(), json!(k));
        }
        e.insert("url".into(), json!(url));
        e.insert("headers".into(), headers.clone());
        Value::Object(e)
    };
    let one = |entry: Value| {
        let mut m = BTreeMap::new();
        m.insert(name.clone(), entry);
        m
    };
    let doc = match args.format {
        Format::Claude => json!({"mcpServers": one(entry(Some("http")))}),
        Format::Cursor => json!({"mcpServers": one(entry(None))}),
        Format::Vscode => json!({"servers": one(entry(Some("http")))}),
        Format::Json => json!({
            "name": name, "url": url, "transport": "streamable-http", "headers": headers,
            "bridge": bridge, "key_id": key_id,
        }),
    };
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn servers_commands_parse() {
        let ServersCommand::Import { file, options } = parse_servers(&words(
            "import f.json --dry-run --prune --namespace dev --source s",
        ))
        .unwrap() else {
            panic!("import")
        };
        assert_eq!(file, "f.json");
        assert!(options.dry_run && options.prune);
        assert_eq!(
            (options.namespace.as_deref(), options.source.as_str()),
            (Some("dev"), "s")
        );
        let ServersCommand::Add(body) = parse_servers(&words(
            "add web --url http://h/mcp --type sse --header Authorization:Bearer_x",
        ))
        .unwrap() else {
            panic!("add")
        };
        assert_eq!(body["protocol"], "sse");
        assert_eq!(body["headers"]["Authorization"], "Bearer_x");
        let ServersCommand::Add(body) =
            parse_servers(&words("add --name t --command uvx --arg a --env TZ=UTC")).unwrap()
        else {
            panic!("add stdio")
        };
        assert_eq!(
            (body["args"][0].as_str(), body["env"]["TZ"].as_str()),
            (Some("a"), Some("UTC"))
        );
        for (line, needle) in [
            ("", "subcommand"),
            ("import", "a FILE"),
            ("add x", "--command"),
            ("add x --url u --type ws", "--type"),
            ("add x --command c --env NOPE", "NAME=VALUE"),
            ("list --prune", "does not apply"),
            ("frob", "frob"),
            ("export --bogus", "--bogus"),
        ] {
            let e = parse_servers(&words(line)).expect_err(line);
            assert!(e.0.contains(needle), "{line}: {e}");
        }
    }

    #[test]
    fn client_config_parses_and_builds_the_endpoint() {
        let a = parse_client_config(&words("--key k --namespace dev --format vscode")).unwrap();
        assert_eq!(a.format, Format::Vscode);
        assert!(parse_client_config(&words("--format claude")).is_err());
        assert!(parse_client_config(&words("--key k --create-key n")).is_err());
        assert!(parse_client_config(&words("--key k --format zed")).is_err());
        let listen: std::net::SocketAddr = "0.0.0.0:12009".parse().unwrap();
        let a = parse_client_config(&words("--key k")).unwrap();
        assert_eq!(endpoint_at(listen, None, &a), "http://127.0.0.1:12009/mcp");
        let mut a = a;
        let url = |a: &ClientConfigArgs| endpoint_at(listen, a.url.as_deref(), a);
        a.url = Some("https://gw.example.com/mcp/".into());
        assert_eq!(url(&a), "https://gw.example.com/mcp");
        a.namespace = Some("dev".into());
        assert_eq!(url(&a), "https://gw.example.com/mcp/dev");
        a.url = Some("https://gw.example.com/mcp/dev".into());
        assert_eq!(url(&a), "https://gw.example.com/mcp/dev");
    }

    #[test]
    fn an_unknowable_port_is_refused_and_a_running_gateways_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let env: std::collections::HashMap<String, String> = [
            ("METAMCP_LISTEN", "127.0.0.1:0".to_string()),
            ("METAMCP_DATA_DIR", dir.path().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut config = Config::from_source(&env).unwrap();
        let a = parse_client_config(&words("--key k")).unwrap();
        let e = endpoint(&config, &a).unwrap_err();
        assert!(e.to_string().contains("--url"), "{e}");
        crate::app::address::write(dir.path(), "127.0.0.1:45678".parse().unwrap());
        assert_eq!(endpoint(&config, &a).unwrap(), "http://127.0.0.1:45678/mcp");
        config.public_url = Some("https://gw.example.com".into());
        assert_eq!(endpoint(&config, &a).unwrap(), "https://gw.example.com/mcp");
    }
}
