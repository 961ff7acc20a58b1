//! `keyadm policies …`: list, add, remove, simulate and check the policies by identity
//! ([`crate::policy::rules`]) in the database. A policy is compiled before it is
//! written (a refusal names the line and the reason); every running gateway applies a
//! change on NOTIFY. `check` asks the running gateway's own dry run of the call
//! ([`super::check`]): the decision a call would get, from the code the call walks.

use serde_json::{Value, json};

use crate::cli::UsageError;
use crate::policy::rules::Mode;
use crate::policy::simulate;
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
        /// The gateway asked (`--url`); found as `client-config` finds it without.
        url: Option<String>,
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
            only(&["--namespace", "--url"])?;
            PoliciesCommand::Simulate {
                name: name.to_string(),
                file: file.to_string(),
                namespace: flag("--namespace"),
                url: flag("--url"),
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
                 simulate NAME FILE [--namespace NS] [--url URL] | \
                 check PRINCIPAL TOOL [--namespace NS] [--arguments JSON] [--url URL]"
                    .into(),
            ));
        }
    })
}

/// Runs a `policies` subcommand.
pub async fn policies_command(
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
            url,
        } => {
            let mut body = json!({"name": name, "text": read_text(file)?});
            if let Some(ns) = namespace {
                body["namespace"] = json!(ns);
            }
            let out = super::check::posted(config, pool, url.as_deref(), "simulate", &body).await;
            simulated(file, out, json)
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

/// `policies simulate NAME FILE [--namespace NS]`: the gateway's answer as a table of
/// the differences (or its JSON); a text that does not compile names `file`, its line
/// and the reason.
fn simulated(
    file: &str,
    out: Result<Value, KeyadmError>,
    json: bool,
) -> Result<String, KeyadmError> {
    let out = out.map_err(|e| match e {
        KeyadmError::Input(m) => KeyadmError::Input(format!("{file}: {m}")),
        other => other,
    })?;
    if json {
        return Ok(line(out));
    }
    let changes = out["changes"].as_array().cloned().unwrap_or_default();
    let n = |k: &str| out[k].as_u64().unwrap_or(0);
    // A simulation that stopped at its bound says so after whatever it found.
    let stopped = match out["stopped"].as_str() {
        Some(why) => format!("{why}\n"),
        None => String::new(),
    };
    let found = if changes.is_empty() {
        format!(
            "no decision changes ({} calls of {} keys compared)\n",
            n("compared"),
            n("keys")
        )
    } else {
        let mut table = aligned(
            &["PRINCIPAL", "TOOL", "BEFORE", "AFTER"],
            simulate::table(&changes),
        );
        if out["truncated"] == true {
            table.push_str(&format!(
                "(the first {} of {} differences)\n",
                changes.len(),
                n("total_changes")
            ));
        }
        table
    };
    Ok(found + &stopped)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_simulation_prints_its_differences_and_where_it_stopped() {
        let whole = json!({"changes": [], "total_changes": 0, "keys": 2, "compared": 10,
            "complete": true});
        assert_eq!(
            super::simulated("p.json", Ok(whole), false).expect("text"),
            "no decision changes (10 calls of 2 keys compared)\n"
        );
        let change = json!({"principal": "ci", "tool": "gh__delete", "before": "allow",
            "after": "deny"});
        let stopped = json!({"changes": [change], "total_changes": 3, "truncated": true,
            "keys": 4, "compared": 100, "complete": false,
            "stopped": "stopped after 100 calls of 4 keys"});
        let text = super::simulated("p.json", Ok(stopped.clone()), false).expect("text");
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with("ci") && lines[1].contains("gh__delete"),
            "{text}"
        );
        assert_eq!(
            lines[2..],
            [
                "(the first 1 of 3 differences)",
                "stopped after 100 calls of 4 keys"
            ],
            "{text}"
        );
        // --json prints the gateway's answer as it is.
        let json = super::simulated("p.json", Ok(stopped.clone()), true).expect("json");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).ok(),
            Some(stopped)
        );
    }
}
