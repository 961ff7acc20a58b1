//! `keyadm policies …`: list, add, remove and check the policies by identity
//! ([`crate::policy::rules`]) in the database. A policy is compiled before it is
//! written (a refusal names the line and the reason); every running gateway applies a
//! change on NOTIFY. `check` is the dry run on what the database holds: the tool's
//! server and annotations are what a running gateway knows, so rules on them are
//! decided as for a tool that says nothing (`POST /api/v1/policies/check` knows them).

use serde_json::{Value, json};

use crate::cli::UsageError;
use crate::policy::rules::{Action, Subject, Target};
use crate::store::keys::KeyStore;
use crate::store::policies::{self, Stored, WriteError};

use super::servers::Line;
use super::{KeyadmError, line};

/// A `policies` subcommand.
#[derive(Debug, Clone, PartialEq)]
pub enum PoliciesCommand {
    List,
    Add {
        name: String,
        file: String,
        namespace: Option<String>,
    },
    Remove(String),
    Check {
        principal: String,
        tool: String,
        namespace: Option<String>,
        arguments: Option<String>,
    },
}

/// `policies …` after the word `policies`.
pub fn parse_policies(args: &[String]) -> Result<PoliciesCommand, UsageError> {
    let line = Line::read(args, &[], &["--namespace", "--arguments"])?;
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
            only(&["--namespace"])?;
            PoliciesCommand::Add {
                name: name.to_string(),
                file: file.to_string(),
                namespace: flag("--namespace"),
            }
        }
        ["remove", name] => {
            only(&[])?;
            PoliciesCommand::Remove(name.to_string())
        }
        ["check", principal, tool] => {
            only(&["--namespace", "--arguments"])?;
            PoliciesCommand::Check {
                principal: principal.to_string(),
                tool: tool.to_string(),
                namespace: flag("--namespace"),
                arguments: flag("--arguments"),
            }
        }
        _ => {
            return Err(UsageError(
                "policies takes: list | add NAME FILE [--namespace NS] | remove NAME | \
                 check PRINCIPAL TOOL [--namespace NS] [--arguments JSON]"
                    .into(),
            ));
        }
    })
}

/// Runs a `policies` subcommand.
pub async fn policies_command(
    store: &KeyStore,
    pool: &deadpool_postgres::Pool,
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
                list.iter()
                    .map(|p| {
                        format!(
                            "{}\t{}\n",
                            p.name,
                            p.namespace.as_deref().unwrap_or("(every view)")
                        )
                    })
                    .collect()
            })
        }
        PoliciesCommand::Add {
            name,
            file,
            namespace,
        } => {
            let text = match file.as_str() {
                "-" => std::io::read_to_string(std::io::stdin()),
                f => std::fs::read_to_string(f),
            }
            .map_err(|e| KeyadmError::Input(format!("cannot read {file}: {e}")))?;
            let p = Stored {
                name: name.clone(),
                text,
                namespace: namespace.clone(),
            };
            let exists = policies::get(pool, name).await?.is_some();
            policies::write(pool, &p, !exists)
                .await
                .map_err(|e| match e {
                    WriteError::Db(e) => KeyadmError::Db(e),
                    WriteError::Invalid(i) => KeyadmError::Input(format!(
                        "{file}: line {}: {} (the policy was not written)",
                        i.line, i.reason
                    )),
                    other => KeyadmError::Input(other.to_string()),
                })?;
            Ok(if json {
                line(p.to_json())
            } else {
                format!(
                    "{} policy {name}\n",
                    if exists { "changed" } else { "added" }
                )
            })
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
        } => {
            let arguments: Option<Value> = arguments
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| KeyadmError::Input(format!("--arguments is not JSON: {e}")))?;
            let id = store.resolve(principal).await?;
            let key = store.show(id.as_str()).await?;
            let who = Subject {
                id: key.id.as_str().to_string(),
                name: key.name.clone(),
                scope: key.scope.as_str().to_string(),
                namespaces: key.namespaces.clone(),
                kind: "key",
                ..Subject::default()
            };
            let rules = policies::load(pool).await?;
            let d = rules.decide(
                &who,
                Action::Call,
                namespace.as_deref(),
                &Target {
                    name: tool,
                    server: "",
                    annotations: &Value::Null,
                },
                arguments.as_ref(),
            );
            Ok(if json {
                line(
                    json!({"decision": d.effect.as_str(), "policy": d.policy.as_deref(),
                            "reason": d.reason.as_deref()}),
                )
            } else {
                format!(
                    "{}{}\n",
                    d.effect.as_str(),
                    d.policy
                        .as_deref()
                        .map_or_else(String::new, |p| format!(" (policy {p})"))
                )
            })
        }
    }
}
