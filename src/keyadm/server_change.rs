//! `keyadm servers set|enable|disable|restart`: a registered server changed (the body
//! of `PUT /api/v1/mcp/servers/{id}`, from flags or a file), switched off or on, or
//! restarted on every gateway (its backend, and a stdio server's process, started anew).
//! Running gateways apply each within a second (NOTIFY), as they do REST's changes.

use serde_json::{Map, Value, json};

use crate::cli::UsageError;
use crate::store::registry::Registry;

use super::KeyadmError;
use super::changes::Trail;
use super::line::Line;

/// What `servers set|enable|disable|restart` asks.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The fields to change (`PUT`'s body: the others stay).
    Set {
        id: String,
        body: Body,
    },
    /// `is_active` to this.
    Active {
        id: String,
        active: bool,
    },
    Restart(String),
}

/// `set`'s body: built from flags, or a file's (`-`: standard input).
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Fields(Value),
    File(String),
}

/// The flags `set` takes besides `--file` (the fields of the REST body they fill).
pub(super) const SET_FLAGS: [&str; 7] = [
    "--command",
    "--arg",
    "--env",
    "--cwd",
    "--url",
    "--header",
    "--timeout-ms",
];

/// `set ID …`, `enable ID`, `disable ID`, `restart ID`, given the words after
/// `servers` and the line's flags.
pub(super) fn parse(verb: &str, rest: &[&str], line: &Line<'_>) -> Result<Change, UsageError> {
    let id = match rest {
        [id] => id.to_string(),
        [] => {
            return Err(UsageError(format!(
                "servers {verb} needs a server ID or name"
            )));
        }
        _ => {
            return Err(UsageError(format!(
                "servers {verb} takes one server ID or name"
            )));
        }
    };
    let allowed: &[&str] = if verb == "set" { &SET_FLAGS } else { &[] };
    if let Some((f, _)) = line
        .flags
        .iter()
        .find(|(f, _)| !allowed.contains(f) && (verb != "set" || *f != "--file"))
    {
        return Err(UsageError(format!("{f} does not apply to servers {verb}")));
    }
    Ok(match verb {
        "enable" | "disable" => Change::Active {
            id,
            active: verb == "enable",
        },
        "restart" => Change::Restart(id),
        _ => Change::Set {
            id,
            body: set_body(line)?,
        },
    })
}

/// `set`'s body: `--file`, or the fields its flags give (at least one).
fn set_body(line: &Line<'_>) -> Result<Body, UsageError> {
    if let Some(file) = line.at_most_one("--file")? {
        if let Some((f, _)) = line.flags.iter().find(|(f, _)| *f != "--file") {
            return Err(UsageError(format!(
                "--file gives the whole body: put {f}'s field in the file, or leave --file out"
            )));
        }
        return Ok(Body::File(file.to_string()));
    }
    let mut body = Map::new();
    for (flag, field) in [("--command", "command"), ("--cwd", "cwd"), ("--url", "url")] {
        if let Some(v) = line.at_most_one(flag)? {
            body.insert(field.into(), json!(v));
        }
    }
    if line.has("--arg") {
        body.insert("args".into(), json!(line.all("--arg")));
    }
    for (flag, field) in [("--env", "env"), ("--header", "headers")] {
        if line.has(flag) {
            body.insert(
                field.into(),
                Value::Object(super::line::pairs(flag, &line.all(flag))?),
            );
        }
    }
    if let Some(t) = line.at_most_one("--timeout-ms")? {
        let ms: u64 = t.parse().map_err(|_| {
            UsageError(format!(
                "--timeout-ms takes a number of milliseconds, not {t:?}"
            ))
        })?;
        body.insert("timeout_ms".into(), json!(ms));
    }
    if body.is_empty() {
        return Err(UsageError(format!(
            "servers set needs something to change: {} or --file BODY.json",
            SET_FLAGS.join(", ")
        )));
    }
    Ok(Body::Fields(Value::Object(body)))
}

/// Reads `--file` (`-`: standard input) as the JSON body of `PUT`.
fn read_file(file: &str) -> Result<Value, KeyadmError> {
    let bytes = if file == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| KeyadmError::Input(format!("cannot read standard input: {e}")))?;
        buf
    } else {
        std::fs::read(file).map_err(|e| KeyadmError::Input(format!("cannot read {file}: {e}")))?
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        KeyadmError::Input(format!(
            "{file} is not JSON ({e}); it holds the body of PUT /api/v1/mcp/servers/{{id}}"
        ))
    })
}

pub(super) async fn run(
    registry: &Registry,
    trail: &Trail,
    change: &Change,
    json: bool,
) -> Result<String, KeyadmError> {
    let (server, text, warnings) = match change {
        Change::Set { id, body } => {
            let body = match body {
                Body::Fields(v) => v.clone(),
                Body::File(f) => read_file(f)?,
            };
            let (s, warnings) = registry.update_server(id, &body).await?;
            trail
                .record(registry.pool(), &[("server.update", s.name.as_str())])
                .await;
            let text = format!("changed server {}", s.name);
            (s, text, warnings)
        }
        Change::Active { id, active } => {
            let before = registry.get_server(id).await?;
            if before.is_active == *active {
                let state = if *active { "active" } else { "inactive" };
                let text = format!("server {} is already {state}", before.name);
                (before, text, Vec::new())
            } else {
                let (s, warnings) = registry
                    .update_server(id, &json!({"is_active": active}))
                    .await?;
                let what = if *active {
                    "server.enable"
                } else {
                    "server.disable"
                };
                trail
                    .record(registry.pool(), &[(what, s.name.as_str())])
                    .await;
                let text = match active {
                    true => format!("server {} is now active: the gateways start it", s.name),
                    false => format!(
                        "server {} is now inactive: the gateways stop it and list none of \
                         its tools",
                        s.name
                    ),
                };
                (s, text, warnings)
            }
        }
        Change::Restart(id) => {
            let s = registry.restart_server(id).await?;
            trail
                .record(registry.pool(), &[("server.restart", s.name.as_str())])
                .await;
            let text = format!(
                "restarting server {} on every gateway (keyadm servers show {0}: its \
                 status and restarts)",
                s.name
            );
            (s, text, Vec::new())
        }
    };
    Ok(if json {
        let mut v = server.public_json("");
        if let Value::Object(m) = &mut v {
            m.remove("status");
        }
        if !warnings.is_empty() {
            v["warnings"] = json!(warnings);
        }
        super::line(v)
    } else {
        let mut out = format!("{text}\n");
        for w in warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &str) -> Result<Change, UsageError> {
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        match super::super::servers::parse_servers(&args)? {
            super::super::ServersCommand::Change(c) => Ok(c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_each_change() {
        assert_eq!(
            p("disable files").unwrap(),
            Change::Active {
                id: "files".into(),
                active: false
            }
        );
        assert_eq!(
            p("enable files").unwrap(),
            Change::Active {
                id: "files".into(),
                active: true
            }
        );
        assert_eq!(p("restart files").unwrap(), Change::Restart("files".into()));
        assert_eq!(
            p("set files --command npx --arg -y --arg pkg --env A=1 --timeout-ms 5000").unwrap(),
            Change::Set {
                id: "files".into(),
                body: Body::Fields(json!({"command": "npx", "args": ["-y", "pkg"],
                                          "env": {"A": "1"}, "timeout_ms": 5000}))
            }
        );
        assert_eq!(
            p("set files --file -").unwrap(),
            Change::Set {
                id: "files".into(),
                body: Body::File("-".into())
            }
        );
    }

    #[test]
    fn refuses_bad_usage_naming_what() {
        for (args, needle) in [
            ("restart", "needs a server"),
            ("restart a b", "takes one"),
            ("restart a --url x", "--url does not apply"),
            ("disable a --confirm", "--confirm does not apply"),
            ("set a", "needs something to change"),
            ("set a --file x --url y", "--file gives the whole body"),
            ("set a --timeout-ms soon", "--timeout-ms"),
            ("set a --env nope", "NAME=VALUE"),
        ] {
            let e = p(args).expect_err(args);
            assert!(e.0.contains(needle), "{args}: {e}");
        }
    }
}
