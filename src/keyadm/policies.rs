//! `keyadm policies …`: list, add, remove, simulate and check the policies by identity
//! ([`crate::policy::rules`]) in the database. A policy is compiled before it is
//! written (a refusal names the line and the reason); every running gateway applies a
//! change on NOTIFY. `check` asks the running gateway's own dry run of the call
//! ([`super::check`]): the decision a call would get, from the code the call walks.

use serde_json::{Value, json};

use crate::cli::UsageError;
use crate::policy::rules::{Mode, Subject};
use crate::policy::simulate;
use crate::store::keys::KeyStore;
use crate::store::policies::{self, Stored, WriteError};

use super::servers::Line;
use super::{KeyadmError, aligned, line};

/// A `policies` subcommand.
#[derive(Debug, Clone, PartialEq)]
pub enum PoliciesCommand {
    List,
    Add {
        name: String,
        file: String,
        namespace: Option<String>,
        mode: Mode,
    },
    Remove(String),
    Simulate {
        name: String,
        file: String,
        namespace: Option<String>,
    },
    Check {
        principal: String,
        tool: String,
        namespace: Option<String>,
        arguments: Option<String>,
        /// The gateway asked (`--url`); found as `client-config` finds it without.
        url: Option<String>,
    },
}

/// `policies …` after the word `policies`.
pub fn parse_policies(args: &[String]) -> Result<PoliciesCommand, UsageError> {
    let line = Line::read(
        args,
        &[],
        &["--namespace", "--arguments", "--mode", "--url"],
    )?;
    let flag = |f: &str| {
        line.flags
            .iter()
            .find(|(n, _)| *n == f)
            .and_then(|(_, v)| v.map(str::to_string))
    };
    let only = |ok: &[&str]| match line.flags.iter().find(|(f, _)| !ok.contains(f)) {
        Some((f, _)) => Err(UsageError(format!("{f} does not apply to this command"))),
        None => Ok(()),
    };
    Ok(match line.words.as_slice() {
        ["list"] => {
            only(&[])?;
            PoliciesCommand::List
        }
        ["add", name, file] => {
            only(&["--namespace", "--mode"])?;
            let mode = match flag("--mode").as_deref() {
                None => Mode::Enforce,
                Some(m) => Mode::parse(m).ok_or_else(|| {
                    UsageError(format!("--mode {m}: enforce (the default) or audit"))
                })?,
            };
            PoliciesCommand::Add {
                name: name.to_string(),
                file: file.to_string(),
                namespace: flag("--namespace"),
                mode,
            }
        }
        ["remove", name] => {
            only(&[])?;
            PoliciesCommand::Remove(name.to_string())
        }
        ["simulate", name, file] => {
            only(&["--namespace"])?;
            PoliciesCommand::Simulate {
                name: name.to_string(),
                file: file.to_string(),
                namespace: flag("--namespace"),
            }
        }
        ["check", principal, tool] => {
            only(&["--namespace", "--arguments", "--url"])?;
            PoliciesCommand::Check {
                principal: principal.to_string(),
                tool: tool.to_string(),
                namespace: flag("--namespace"),
                arguments: flag("--arguments"),
                url: flag("--url"),
            }
        }
        _ => {
            return Err(UsageError(
                "policies takes: list | add NAME FILE [--namespace NS] [--mode enforce|audit] | remove NAME | \
                 simulate NAME FILE [--namespace NS] | \
                 check PRINCIPAL TOOL [--namespace NS] [--arguments JSON] [--url URL]"
                    .into(),
            ));
        }
    })
}

/// Runs a `policies` subcommand.
pub async fn policies_command(
    store: &KeyStore,
    pool: &deadpool_postgres::Pool,
    config: &crate::config::Config,
    cmd: &PoliciesCommand,
    json: bool,
) -> Result<String, KeyadmError> {
    match cmd {
        PoliciesCommand::List => {
            let list = policies::list(pool).await?;
            Ok(if json {
                line(
                    json!({"language": "cel", "policies": list.iter().map(Stored::to_json).collect::<Vec<_>>()}),
                )
            } else if list.is_empty() {
                "no policies: every call within reach is allowed\n".into()
            } else {
                aligned(
                    &["NAME", "NAMESPACE", "MODE"],
                    list.iter()
                        .map(|p| {
                            vec![
                                p.name.clone(),
                                p.namespace.as_deref().unwrap_or("(every view)").to_string(),
                                p.mode.as_str().to_string(),
                            ]
                        })
                        .collect(),
                )
            })
        }
        PoliciesCommand::Add {
            name,
            file,
            namespace,
            mode,
        } => {
            let p = Stored {
                name: name.clone(),
                text: read_text(file)?,
                namespace: namespace.clone(),
                mode: *mode,
            };
            let exists = policies::get(pool, name).await?.is_some();
            policies::write(pool, &p, !exists)
                .await
                .map_err(|e| written(file, e))?;
            Ok(if json {
                line(p.to_json())
            } else {
                format!(
                    "{} policy {name}\n",
                    if exists { "changed" } else { "added" }
                )
            })
        }
        PoliciesCommand::Simulate {
            name,
            file,
            namespace,
        } => {
            simulate_command(
                store,
                pool,
                config,
                (name, file, namespace.as_deref()),
                json,
            )
            .await
        }
        PoliciesCommand::Remove(name) => {
            if !policies::remove(pool, name).await? {
                return Err(KeyadmError::Input(format!("no policy named {name:?}")));
            }
            Ok(if json {
                line(json!({"removed": name}))
            } else {
                format!("removed policy {name}\n")
            })
        }
        PoliciesCommand::Check {
            principal,
            tool,
            namespace,
            arguments,
            url,
        } => {
            let arguments: Option<Value> = arguments
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| KeyadmError::Input(format!("--arguments is not JSON: {e}")))?;
            let asked = super::check::Asked {
                principal,
                tool,
                namespace: namespace.as_deref(),
                arguments,
                url: url.as_deref(),
            };
            let d = super::check::ask(config, pool, &asked).await?;
            Ok(if json {
                line(d)
            } else {
                super::check::text(&d)
            })
        }
    }
}

/// `policies simulate NAME FILE [--namespace NS]`: the differences as a table (or JSON).
async fn simulate_command(
    store: &KeyStore,
    pool: &deadpool_postgres::Pool,
    config: &crate::config::Config,
    (name, file, namespace): (&str, &str, Option<&str>),
    json: bool,
) -> Result<String, KeyadmError> {
    let change = Stored {
        name: name.to_string(),
        text: read_text(file)?,
        namespace: namespace.map(str::to_string),
        mode: Mode::Enforce,
    };
    let (today, changed) = policies::with_change(pool, &change)
        .await
        .map_err(|e| written(file, e))?;
    let reach = reach(store, pool, config, namespace).await?;
    let (changes, compared) = simulate::compare(&today, &changed, &reach);
    Ok(if json {
        line(
            json!({"changes": changes.iter().map(simulate::Change::to_json).collect::<Vec<_>>(),
                    "keys": reach.len(), "compared": compared, "arguments": simulate::ARGUMENTS_NOTE}),
        )
    } else if changes.is_empty() {
        format!(
            "no decision changes ({compared} calls of {} keys compared)\n",
            reach.len()
        )
    } else {
        aligned(
            &["PRINCIPAL", "TOOL", "BEFORE", "AFTER"],
            simulate::table(&changes),
        )
    })
}

/// A policy file's text (`-`: standard input).
fn read_text(file: &str) -> Result<String, KeyadmError> {
    match file {
        "-" => std::io::read_to_string(std::io::stdin()),
        f => std::fs::read_to_string(f),
    }
    .map_err(|e| KeyadmError::Input(format!("cannot read {file}: {e}")))
}

/// A refused write (or simulation) of `file`, as keyadm says it.
fn written(file: &str, e: WriteError) -> KeyadmError {
    match e {
        WriteError::Db(e) => KeyadmError::Db(e),
        WriteError::Invalid(i) => {
            KeyadmError::Input(format!("{file}: {i} (the policy was not written)"))
        }
        other => KeyadmError::Input(other.to_string()),
    }
}

/// Every usable key and the tools it reaches, as pinned in the database (what the
/// gateway listed) and the gateway's own: on `/mcp` (a key limited to namespaces, the
/// tools of their servers), or in `namespace` for the keys that reach it.
async fn reach(
    store: &KeyStore,
    pool: &deadpool_postgres::Pool,
    config: &crate::config::Config,
    namespace: Option<&str>,
) -> Result<Vec<simulate::Reach>, KeyadmError> {
    let pins = all_pinned(pool).await?;
    let own: Vec<(String, Value)> = crate::app::gateway_tools(config)
        .iter()
        .map(|t| (t.name().to_string(), t.definition()))
        .collect();
    let mut out = Vec::new();
    for key in store.list(false).await? {
        if key.expired {
            continue;
        }
        let admin = key.scope.as_str() == "admin";
        let limited = !admin && !key.namespaces.is_empty();
        let within: Vec<Option<String>> = match namespace {
            Some(ns) if !limited || key.namespaces.iter().any(|n| n == ns) => {
                vec![Some(ns.to_string())]
            }
            Some(_) => continue,
            None if limited => key.namespaces.iter().cloned().map(Some).collect(),
            None => vec![None],
        };
        let mut tools = Vec::new();
        for (server, name, definition, offered) in &pins {
            let at: Vec<Option<String>> = within
                .iter()
                .filter(|w| w.as_ref().is_none_or(|n| offered.contains(n)))
                .cloned()
                .collect();
            if at.is_empty() {
                continue;
            }
            tools.push(simulate::Reached {
                name: crate::routing::exposed_name(server, name, true),
                server: server.clone(),
                annotations: definition
                    .get("annotations")
                    .cloned()
                    .unwrap_or(Value::Null),
                namespaces: at,
            });
        }
        for (name, definition) in &own {
            tools.push(simulate::Reached {
                name: name.clone(),
                server: crate::routing::SERVED_BY.to_string(),
                annotations: definition
                    .get("annotations")
                    .cloned()
                    .unwrap_or(Value::Null),
                namespaces: within.clone(),
            });
        }
        out.push(simulate::Reach {
            who: Subject {
                id: key.id.as_str().to_string(),
                name: key.name.clone(),
                scope: key.scope.as_str().to_string(),
                namespaces: key.namespaces.clone(),
                kind: "key",
                ..Subject::default()
            },
            tools,
        });
    }
    Ok(out)
}

/// Every pinned tool of an active server: its server, its name, its definition and the
/// namespaces that include its server.
async fn all_pinned(
    pool: &deadpool_postgres::Pool,
) -> Result<Vec<(String, String, Value, Vec<String>)>, KeyadmError> {
    let client = pool.get().await.map_err(crate::store::db::DbError::from)?;
    let rows = client
        .query(
            "SELECT s.name, p.name, p.definition, \
                    array_remove(array_agg(ns.namespace), NULL) \
             FROM tool_pins p JOIN mcp_servers s ON s.id = p.server_id \
             LEFT JOIN namespace_servers ns ON ns.server_id = s.id \
             WHERE p.kind = 'tool' AND s.is_active \
             GROUP BY s.name, p.name, p.definition ORDER BY s.name, p.name",
            &[],
        )
        .await
        .map_err(crate::store::db::DbError::from)?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}
