//! `keyadm reviews list | approve SERVER [NAME] [--prompt] | reject SERVER [NAME]
//! [--prompt]`: the tool and prompt definitions held for review ([`crate::pins`]) and an
//! admin's decision (`NAME` is a tool's, or with `--prompt` a prompt's). The decision is
//! written to PostgreSQL; every gateway follows within its NOTIFY's latency.

use serde_json::{Value, json};

use crate::cli::UsageError;
use crate::keyadm::changes::Trail;
use crate::keyadm::servers::Line;
use crate::keyadm::{KeyadmError, aligned, line};
use crate::pins::Item;
use crate::store::registry::Registry;

const USAGE: &str = "reviews list [--json] | reviews approve SERVER [NAME] [--prompt] | reviews reject SERVER [NAME] [--prompt]";

/// A parsed `keyadm reviews` command.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewsCommand {
    List,
    Decide {
        approve: bool,
        server: String,
        tool: Option<String>,
        /// `Some(Prompt)` with `--prompt`; `Some(Tool)` when a name is given without
        /// it; `None` (every kind) for a whole server.
        item: Option<Item>,
    },
}

pub fn parse(args: &[String]) -> Result<ReviewsCommand, UsageError> {
    let line = Line::read(args, &["--prompt"], &[])?;
    let prompt = line.has("--prompt");
    let decide = |approve: bool, server: &str, tool: Option<&&str>| ReviewsCommand::Decide {
        approve,
        server: server.to_string(),
        tool: tool.map(|t| t.to_string()),
        item: match (prompt, tool) {
            (true, _) => Some(Item::Prompt),
            (false, Some(_)) => Some(Item::Tool),
            (false, None) => None,
        },
    };
    match line.words.as_slice() {
        [] | ["list"] if !prompt => Ok(ReviewsCommand::List),
        ["approve", server, rest @ ..] if rest.len() <= 1 => Ok(decide(true, server, rest.first())),
        ["reject", server, rest @ ..] if rest.len() <= 1 => Ok(decide(false, server, rest.first())),
        _ => Err(UsageError(USAGE.into())),
    }
}

pub(super) async fn reviews_command(
    registry: &Registry,
    trail: &Trail,
    cmd: &ReviewsCommand,
    json: bool,
) -> Result<String, KeyadmError> {
    let pool = registry.pool();
    match cmd {
        ReviewsCommand::List => {
            let reviews = crate::pins::store::reviews(pool, None).await?;
            Ok(if json {
                line(json!({"reviews": reviews}))
            } else {
                table(&reviews)
            })
        }
        ReviewsCommand::Decide {
            approve,
            server,
            tool,
            item,
        } => {
            let s = registry.get_server(server).await?;
            let items =
                crate::pins::store::decide(pool, s.id, *item, tool.as_deref(), *approve).await?;
            if items.is_empty() {
                let what = item.map_or("item", Item::as_str);
                return Err(KeyadmError::Input(match tool {
                    Some(t) => format!(
                        "no {what} of server {} named {t:?} is held for review (keyadm reviews list shows what is)",
                        s.name
                    ),
                    None => format!("nothing of server {} is held for review", s.name),
                }));
            }
            let names: Vec<&str> = items.iter().map(|(_, n)| n.as_str()).collect();
            let (what, method) = match approve {
                true => ("approved", "tool.approved"),
                false => ("rejected", "tool.rejected"),
            };
            let objects: Vec<String> = names.iter().map(|n| format!("{}/{n}", s.name)).collect();
            let changes: Vec<(&'static str, &str)> =
                objects.iter().map(|o| (method, o.as_str())).collect();
            trail.record(pool, &changes).await;
            Ok(if json {
                let decided: Vec<Value> = items
                    .iter()
                    .map(|(item, name)| json!({"item": item.as_str(), "tool": name}))
                    .collect();
                line(json!({"server": s.name, what: names, "items": decided}))
            } else {
                items
                    .iter()
                    .map(|(item, n)| format!("{what} {} {}/{n}\n", item.as_str(), s.name))
                    .collect()
            })
        }
    }
}

/// One member of a review's diff: `+ path: value` added, `- path: value` removed,
/// `~ path: before -> after` changed.
fn diff_line(d: &Value, text: impl Fn(&Value) -> String) -> String {
    let path = text(&d["path"]);
    match d["change"].as_str() {
        Some("added") => format!("  + {path}: {}\n", text(&d["after"])),
        Some("removed") => format!("  - {path}: {}\n", text(&d["before"])),
        _ => format!(
            "  ~ {path}: {} -> {}\n",
            text(&d["before"]),
            text(&d["after"])
        ),
    }
}

/// The reviews as text: one row each, then what changed in each.
fn table(reviews: &[Value]) -> String {
    if reviews.is_empty() {
        return "nothing is held for review\n".to_string();
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        v => v.to_string(),
    };
    let rows = reviews
        .iter()
        .map(|r| {
            let findings = r["findings"].as_array().map_or(0, Vec::len);
            vec![
                text(&r["server"]),
                text(&r["item"]),
                text(&r["tool"]),
                text(&r["kind"]),
                findings.to_string(),
                text(&r["held_at"]),
            ]
        })
        .collect();
    let mut out = aligned(
        &["SERVER", "ITEM", "NAME", "KIND", "FINDINGS", "HELD AT"],
        rows,
    );
    for r in reviews {
        out.push_str(&format!(
            "\n{} {}/{} ({}):\n",
            text(&r["item"]),
            text(&r["server"]),
            text(&r["tool"]),
            text(&r["kind"])
        ));
        for f in r["findings"].as_array().into_iter().flatten() {
            out.push_str(&format!("  finding: {}\n", text(f)));
        }
        for d in r["diff"].as_array().into_iter().flatten() {
            out.push_str(&diff_line(d, text));
        }
    }
    out.push_str("\napprove: keyadm reviews approve SERVER [NAME] (a prompt: NAME --prompt); keep the old pin: keyadm reviews reject SERVER [NAME] [--prompt]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_added_tool_reads_as_its_members_added() {
        let added = json!({"name": "wipe", "description": "Deletes every record"});
        let review = json!({"server": "srv", "item": "tool", "tool": "wipe", "kind": "added",
            "findings": [], "held_at": "2026-11-28T00:00:00Z",
            "diff": crate::pins::canon::diff(&Value::Null, &added)});
        let out = table(&[review]);
        assert!(
            out.contains("  + /description: Deletes every record\n"),
            "{out}"
        );
        assert!(out.contains("  + /name: wipe\n"), "{out}");
        assert!(!out.contains(": - ->"), "{out}");
        let changed = json!({"server": "srv", "item": "tool", "tool": "add", "kind": "changed",
            "findings": [], "held_at": "2026-11-28T00:00:00Z",
            "diff": crate::pins::canon::diff(&json!({"description": "Adds"}),
                                              &json!({"description": "Adds exactly"}))});
        let out = table(&[changed]);
        assert!(
            out.contains("  ~ /description: Adds -> Adds exactly\n"),
            "{out}"
        );
    }
}
