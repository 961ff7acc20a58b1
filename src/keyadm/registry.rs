//! `keyadm registry search | add | outdated | upgrade`: servers from an MCP registry
//! (`METAMCP_REGISTRY_URL`, or `--registry URL`), through [`crate::registry`] and the
//! registry's own writer, as `/api/v1/registry/…` does; every gateway follows within its
//! NOTIFY's latency. An upgrade's changed definitions are held for review
//! (`keyadm reviews list`, `keyadm reviews approve SERVER`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cli::UsageError;
use crate::keyadm::changes::Trail;
use crate::keyadm::line::Line;
use crate::keyadm::{KeyadmError, aligned, line};
use crate::registry::install::{Install, Upgrade, Upgraded};
use crate::registry::plan::{Given, Missing, PlanError};
use crate::registry::{Client, RegistryError, registry_of};
use crate::store::registry::Registry;

const USAGE: &str = "registry search QUERY [--registry URL] [--limit N] [--cursor C] [--json] | \
registry add NAME [--version V] [--as SERVER] [--namespace NS] [--env K=V]... [--arg K=V]... \
[--header K=V]... [--registry URL] [--force] [--allow-private] [--json] | registry outdated [--json] | \
registry upgrade SERVER [--version V] [--env K=V]... [--arg K=V]... [--header K=V]... [--force] \
[--allow-private] [--approve-origin ORIGIN [--keep-headers]] [--json]";

/// A parsed `keyadm registry` command.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryCommand {
    Search {
        query: String,
        registry: Option<String>,
        limit: usize,
        cursor: Option<String>,
    },
    Add(Install),
    Outdated,
    Upgrade(Upgrade),
}

fn map(line: &Line<'_>, flag: &str) -> Result<BTreeMap<String, String>, UsageError> {
    Ok(super::line::pairs(flag, &line.all(flag))?
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
        .collect())
}

fn given(line: &Line<'_>) -> Result<Given, UsageError> {
    Ok(Given {
        env: map(line, "--env")?,
        arguments: map(line, "--arg")?,
        headers: map(line, "--header")?,
        force: line.has("--force"),
        ..Given::default()
    })
}

pub fn parse(args: &[String]) -> Result<RegistryCommand, UsageError> {
    let line = Line::read(
        args,
        &["--force", "--allow-private", "--keep-headers"],
        &[
            "--registry",
            "--limit",
            "--cursor",
            "--version",
            "--as",
            "--namespace",
            "--env",
            "--arg",
            "--header",
            "--approve-origin",
        ],
    )?;
    let one = |f: &str| line.at_most_one(f).map(|v| v.map(str::to_string));
    let usage = || UsageError(USAGE.into());
    match line.words.as_slice() {
        ["search", words @ ..] => Ok(RegistryCommand::Search {
            query: words.join(" "),
            registry: one("--registry")?,
            limit: match one("--limit")? {
                None => 30,
                Some(n) => n
                    .parse()
                    .ok()
                    .filter(|n| (1..=crate::registry::MAX_LIMIT).contains(n))
                    .ok_or_else(|| UsageError("--limit takes 1 to 100".into()))?,
            },
            cursor: one("--cursor")?,
        }),
        ["add", name] => Ok(RegistryCommand::Add(Install {
            name: name.to_string(),
            version: one("--version")?,
            server: one("--as")?,
            namespace: one("--namespace")?,
            registry: one("--registry")?,
            given: given(&line)?,
            allow_private: line.has("--allow-private"),
        })),
        ["outdated"] => Ok(RegistryCommand::Outdated),
        ["upgrade", server] => Ok(RegistryCommand::Upgrade(Upgrade {
            server: server.to_string(),
            version: one("--version")?,
            given: given(&line)?,
            allow_private: line.has("--allow-private"),
            approve_origin: one("--approve-origin")?,
            keep_headers: line.has("--keep-headers"),
        })),
        _ => Err(usage()),
    }
}

/// A registry failure as keyadm's: a refused entry or missing values are input the
/// command cannot use (exit 65), with every missing value named.
fn failed(e: RegistryError) -> KeyadmError {
    match e {
        RegistryError::Store(s) => KeyadmError::Registry(s),
        RegistryError::Plan(PlanError::Missing(m)) => KeyadmError::Input(missing_flags(&m)),
        RegistryError::Plan(PlanError::Refused(_))
        | RegistryError::Invalid(..)
        | RegistryError::NotFound(_) => KeyadmError::Input(e.to_string()),
        other => KeyadmError::Input(other.to_string()),
    }
}

/// The values an entry needs, named as this command's flags take them (REST's answer
/// names the request's `env`, `arguments` and `headers`).
fn missing_flags(missing: &[Missing]) -> String {
    let flag = |m: &Missing| match m.kind {
        "env" => format!("--env {}=VALUE", m.name),
        "header" => format!("--header {}=VALUE", m.name),
        _ => format!("--arg {}=VALUE", m.name),
    };
    format!(
        "the entry needs {}: give them as {}",
        missing
            .iter()
            .map(|m| format!("{} {}", m.kind, m.name))
            .collect::<Vec<_>>()
            .join(", "),
        missing.iter().map(flag).collect::<Vec<_>>().join(" ")
    )
}

/// A server object without `status` (keyadm does not know what the gateways see yet).
fn without_status(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

pub(super) async fn registry_command(
    store: &Registry,
    client: &Client,
    default_registry: &str,
    trail: &Trail,
    cmd: &RegistryCommand,
    json: bool,
) -> Result<String, KeyadmError> {
    match cmd {
        RegistryCommand::Search {
            query,
            registry,
            limit,
            cursor,
        } => {
            let registry = registry_of(registry.as_deref(), default_registry).map_err(failed)?;
            let page = client
                .search(&registry, Some(query), cursor.as_deref(), *limit)
                .await
                .map_err(failed)?;
            let servers: Vec<Value> = page.entries.iter().map(|e| e.summary()).collect();
            if json {
                return Ok(line(
                    json!({"servers": servers, "next_cursor": page.next_cursor,
                                      "registry": registry, "skipped": page.skipped}),
                ));
            }
            let rows = page
                .entries
                .iter()
                .map(|e| {
                    let runs: Vec<String> = e
                        .remotes
                        .iter()
                        .map(|r| r.kind.clone())
                        .chain(e.packages.iter().map(|p| p.registry_type.clone()))
                        .collect();
                    vec![
                        e.name.clone(),
                        e.version.clone(),
                        e.status.as_str().into(),
                        runs.join(","),
                        e.description.chars().take(60).collect(),
                    ]
                })
                .collect();
            let mut out = aligned(&["NAME", "VERSION", "STATUS", "RUNS", "DESCRIPTION"], rows);
            if let Some(c) = page.next_cursor {
                out.push_str(&format!("more: --cursor {c}\n"));
            }
            Ok(out)
        }
        RegistryCommand::Add(req) => {
            let (s, instructions) =
                crate::registry::install::install(client, store, default_registry, req)
                    .await
                    .map_err(failed)?;
            trail
                .record(store.pool(), &[("server.install", s.name.as_str())])
                .await;
            let source = s.source.as_ref();
            Ok(if json {
                let mut v = without_status(s.public_json(""));
                v["post_install_instructions"] = json!(instructions);
                line(v)
            } else {
                let mut out = format!(
                    "installed server {} ({}, id {}) from {} {} ({})\n",
                    s.name,
                    s.protocol.as_str(),
                    s.id,
                    source.map_or("", |x| x.name.as_str()),
                    source.map_or("", |x| x.version.as_str()),
                    source.map_or("", |x| x.registry.as_str()),
                );
                if let Some(text) = instructions {
                    out.push_str("after installing, the entry says:\n");
                    for l in text.lines() {
                        out.push_str(&format!("  {}\n", l.trim_end()));
                    }
                }
                out
            })
        }
        RegistryCommand::Outdated => {
            let list = crate::registry::install::outdated(client, store)
                .await
                .map_err(failed)?;
            if json {
                return Ok(line(json!({"servers": list})));
            }
            if list.is_empty() {
                return Ok(
                    "every server installed from a registry is at its latest version\n".into(),
                );
            }
            let rows = list
                .into_iter()
                .map(|o| {
                    vec![
                        o.server,
                        o.name,
                        o.installed,
                        o.latest.unwrap_or_else(|| "?".into()),
                        o.status.or(o.error).unwrap_or_default(),
                    ]
                })
                .collect();
            Ok(aligned(
                &["SERVER", "ENTRY", "INSTALLED", "LATEST", "STATUS"],
                rows,
            ))
        }
        RegistryCommand::Upgrade(req) => upgrade(store, client, trail, req, json).await,
    }
}

/// `registry upgrade`: the upgrade done, or held with its reason.
async fn upgrade(
    store: &Registry,
    client: &Client,
    trail: &Trail,
    req: &Upgrade,
    json: bool,
) -> Result<String, KeyadmError> {
    let (s, from) = match crate::registry::install::upgrade(client, store, req)
        .await
        .map_err(failed)?
    {
        Upgraded::Done(s, from) => (s, from),
        Upgraded::Held {
            server,
            version,
            origin,
            reason,
        } => {
            return Ok(if json {
                let mut v = without_status(server.public_json(""));
                v["upgrade_held"] = json!(true);
                v["held_reason"] = json!(reason);
                v["held_version"] = json!(version);
                v["held_origin"] = json!(origin);
                line(v)
            } else {
                format!("held: server {} stays as it is. {reason}\n", server.name)
            });
        }
    };
    trail
        .record(store.pool(), &[("server.upgrade", s.name.as_str())])
        .await;
    let to = s.source.as_ref().map_or("", |x| x.version.as_str());
    Ok(if json {
        let mut v = without_status(s.public_json(""));
        v["upgraded_from"] = json!(from);
        line(v)
    } else {
        format!(
            "upgraded server {} from {from} to {to}; its changed tool definitions are \
             held for review (keyadm reviews list, keyadm reviews approve {})\n",
            s.name, s.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<RegistryCommand, UsageError> {
        parse(&s.split(' ').map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn parses_each_command() {
        let RegistryCommand::Add(i) =
            p("add io.github.x/y --version 1.0 --as y --env A=1 --env B=2 --force").unwrap()
        else {
            panic!("add")
        };
        assert_eq!(i.name, "io.github.x/y");
        assert_eq!(
            (i.version.as_deref(), i.server.as_deref()),
            (Some("1.0"), Some("y"))
        );
        assert_eq!(i.given.env.len(), 2);
        assert!(i.given.force && !i.allow_private);
        assert!(matches!(p("outdated").unwrap(), RegistryCommand::Outdated));
        assert!(matches!(
            p("search time --registry http://127.0.0.1:9").unwrap(),
            RegistryCommand::Search { query, .. } if query == "time"
        ));
        assert!(p("add").is_err() && p("upgrade").is_err() && p("add a --env X").is_err());
        assert!(p("search x --limit 0").is_err());
    }
}
