//! `keyadm namespaces …`: list, show, add, set and remove the registry's namespaces.
//!
//! `add` and `set` build the REST API's body (`POST /api/v1/namespaces`, `PUT
//! /api/v1/namespaces/{name}`) from their flags, or take it whole from `--file`, and hand
//! it to the registry ([`Registry::create_namespace`], [`Registry::update_namespace`]),
//! which checks it ([`crate::model::validate`]) before it writes anything, in one
//! transaction. The registry's triggers announce the commit and every running gateway
//! applies it (LISTEN/NOTIFY), as for a change made over REST. The registry's refusals
//! are told here in the command line's words: the flag, the value given, what to do next.

use serde_json::{Map, Value, json};

use crate::cli::UsageError;
use crate::model::Namespace;
use crate::store::registry::{Registry, StoreError};

use super::KeyadmError;
use super::line::Line;

/// A `namespaces` subcommand.
#[derive(Debug, Clone, PartialEq)]
pub enum NamespacesCommand {
    List,
    Show(String),
    /// Creates the namespace from the body.
    Add {
        name: String,
        body: Body,
    },
    /// Changes the fields the body names (the others stay).
    Set {
        name: String,
        body: Body,
    },
    Remove {
        name: String,
        confirm: bool,
    },
}

/// The body of `add` or `set`.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Built from the flags: a refusal names the flag.
    Flags(Map<String, Value>),
    /// The REST body in a file (`-`: standard input): a refusal names the field.
    File(String),
}

/// Each flag of `add` and `set`, with the body's field it sets.
const FIELD_FLAGS: [(&str, &str); 11] = [
    ("--server", "servers"),
    ("--description", "description"),
    ("--tool-prefix", "tool_prefix"),
    ("--tool-search", "tool_search"),
    ("--code-mode", "code_mode"),
    ("--validate-arguments", "validate_arguments"),
    ("--auth", "auth"),
    ("--guardrails", "guardrails"),
    ("--tools-default", "tools_default"),
    ("--allow", "tools"),
    ("--disallow", "tools"),
];

/// `namespaces …` after the word `namespaces`.
pub fn parse_namespaces(args: &[String]) -> Result<NamespacesCommand, UsageError> {
    let mut valued: Vec<&str> = FIELD_FLAGS.iter().map(|(f, _)| *f).collect();
    valued.push("--file");
    let line = Line::read(args, &["--confirm"], &valued)?;
    let allowed = |ok: &[&str]| match line.flags.iter().find(|(f, _)| !ok.contains(f)) {
        Some((f, _)) => Err(UsageError(format!("{f} does not apply to this command"))),
        None => Ok(()),
    };
    let one_name = |rest: &[&str], cmd: &str| match rest {
        [n] => Ok(n.to_string()),
        [] => Err(UsageError(format!("namespaces {cmd} needs a NAME"))),
        _ => Err(UsageError(format!(
            "namespaces {cmd} takes one NAME, not {}",
            rest.join(" ")
        ))),
    };
    Ok(match line.words.as_slice() {
        ["list"] => {
            allowed(&[])?;
            NamespacesCommand::List
        }
        ["show", rest @ ..] => {
            allowed(&[])?;
            NamespacesCommand::Show(one_name(rest, "show")?)
        }
        ["remove", rest @ ..] => {
            allowed(&["--confirm"])?;
            NamespacesCommand::Remove {
                name: one_name(rest, "remove")?,
                confirm: line.has("--confirm"),
            }
        }
        ["add", rest @ ..] => {
            allowed(&valued)?;
            NamespacesCommand::Add {
                name: one_name(rest, "add")?,
                body: body(&line)?,
            }
        }
        ["set", rest @ ..] => {
            allowed(&valued)?;
            let name = one_name(rest, "set")?;
            let body = body(&line)?;
            if body == Body::Flags(Map::new()) {
                return Err(UsageError(format!(
                    "namespaces set {name} needs something to change: {} or --file FILE",
                    FIELD_FLAGS.map(|(f, _)| f).join(", ")
                )));
            }
            NamespacesCommand::Set { name, body }
        }
        [] => {
            return Err(UsageError(
                "namespaces needs a subcommand: list, show, add, set, remove".into(),
            ));
        }
        [other, ..] => {
            return Err(UsageError(format!(
                "unknown namespaces subcommand {other:?} (list, show, add, set, remove)"
            )));
        }
    })
}

/// The body of `add` or `set`: `--file`, or the fields the flags give. Values go to the
/// registry as given (a `--validate-arguments` other than true or false stays a string),
/// so its validation is the only one and refuses them in its own words.
fn body(line: &Line<'_>) -> Result<Body, UsageError> {
    if let Some(file) = line.at_most_one("--file")? {
        return match line.flags.iter().find(|(f, _)| *f != "--file") {
            Some((f, _)) => Err(UsageError(format!(
                "--file gives the whole body: put {f}'s field in the file, or leave --file out"
            ))),
            None => Ok(Body::File(file.to_string())),
        };
    }
    let mut body = Map::new();
    let servers = line.all("--server");
    if !servers.is_empty() {
        body.insert("servers".into(), json!(servers));
    }
    if let Some(d) = line.at_most_one("--description")? {
        // An empty description clears it.
        let d = if d.is_empty() { Value::Null } else { json!(d) };
        body.insert("description".into(), d);
    }
    for (flag, field) in [
        ("--tool-prefix", "tool_prefix"),
        ("--tool-search", "tool_search"),
        ("--code-mode", "code_mode"),
        ("--auth", "auth"),
    ] {
        if let Some(v) = line.at_most_one(flag)? {
            body.insert(field.into(), json!(v));
        }
    }
    if let Some(v) = line.at_most_one("--tools-default")? {
        body.insert("tools_default".into(), json!(v));
    }
    // Each tool allowed: an override `{"enabled": true}`; each disallowed, `{"enabled":
    // false}` (off an allow-list, or switched off) (`set` keeps the namespace's other
    // overrides and the tools' names, descriptions and rates).
    let allowed = line.all("--allow");
    let disallowed = line.all("--disallow");
    if let Some(both) = allowed.iter().find(|t| disallowed.contains(t)) {
        return Err(UsageError(format!(
            "{both} is both --allow'ed and --disallow'ed: give it once"
        )));
    }
    if !allowed.is_empty() || !disallowed.is_empty() {
        let tools: Map<String, Value> = allowed
            .iter()
            .map(|t| (t.to_string(), json!({"enabled": true})))
            .chain(
                disallowed
                    .iter()
                    .map(|t| (t.to_string(), json!({"enabled": false}))),
            )
            .collect();
        body.insert("tools".into(), Value::Object(tools));
    }
    if let Some(v) = line.at_most_one("--validate-arguments")? {
        let v = match v {
            "true" => json!(true),
            "false" => json!(false),
            other => json!(other),
        };
        body.insert("validate_arguments".into(), v);
    }
    // The JSON array of the REST field (a value that is not JSON goes as a string, for
    // the registry to refuse in its words).
    if let Some(v) = line.at_most_one("--guardrails")? {
        let v = serde_json::from_str::<Value>(v).unwrap_or_else(|_| json!(v));
        body.insert("guardrails".into(), v);
    }
    Ok(Body::Flags(body))
}

pub async fn namespaces_command(
    registry: &Registry,
    cmd: &NamespacesCommand,
    json: bool,
) -> Result<String, KeyadmError> {
    match cmd {
        NamespacesCommand::List => {
            let all = registry.list_namespaces().await?;
            Ok(if json {
                super::line(Value::Array(
                    all.iter().map(Namespace::public_json).collect(),
                ))
            } else if all.is_empty() {
                "no namespaces: `keyadm namespaces add NAME --server S` creates one\n".into()
            } else {
                table(&all)
            })
        }
        NamespacesCommand::Show(name) => {
            let ns = registry
                .get_namespace(name)
                .await
                .map_err(|e| explain(e, name, None))?;
            Ok(if json {
                super::line(ns.public_json())
            } else {
                shown(&ns)
            })
        }
        NamespacesCommand::Add { name, body } => {
            let (value, _) = read_body(body, Some(name))?;
            let ns = registry
                .create_namespace(&value)
                .await
                .map_err(|e| explain(e, name, Some((body, &value))))?;
            Ok(written(&ns, "added namespace", &[], json))
        }
        NamespacesCommand::Set { name, body } => {
            let (mut value, given) = read_body(body, None)?;
            if let (Body::Flags(_), Some(Value::Object(allowed))) = (body, value.get("tools")) {
                let ns = registry
                    .get_namespace(name)
                    .await
                    .map_err(|e| explain(e, name, None))?;
                value["tools"] = with_allowed(&ns, allowed);
            }
            let ns = registry
                .update_namespace(name, &value)
                .await
                .map_err(|e| explain(e, name, Some((body, &value))))?;
            Ok(written(&ns, "changed namespace", &given, json))
        }
        NamespacesCommand::Remove { name, confirm } => {
            let ns = registry
                .get_namespace(name)
                .await
                .map_err(|e| explain(e, name, None))?;
            if !confirm {
                return Err(KeyadmError::NotConfirmed(format!("namespace {name}")));
            }
            registry
                .delete_namespace(name)
                .await
                .map_err(|e| explain(e, name, None))?;
            Ok(if json {
                super::line(json!({"name": ns.name, "deleted": true}))
            } else {
                format!(
                    "removed namespace {0}: running gateways stop serving /mcp/{0} as the \
                     database announces it (NOTIFY)\n",
                    ns.name
                )
            })
        }
    }
}

/// The body as JSON, and the fields it names. `add`'s NAME is the body's `name` (a file
/// may leave it out, and may not name another).
fn read_body(body: &Body, name: Option<&str>) -> Result<(Value, Vec<String>), KeyadmError> {
    let mut value = match body {
        Body::Flags(map) => Value::Object(map.clone()),
        Body::File(file) => {
            let bytes = if file == "-" {
                let mut buf = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                    .map(|_| buf)
                    .map_err(|e| KeyadmError::Input(format!("cannot read standard input: {e}")))?
            } else {
                std::fs::read(file)
                    .map_err(|e| KeyadmError::Input(format!("cannot read {file}: {e}")))?
            };
            serde_json::from_slice(&bytes).map_err(|e| {
                KeyadmError::Input(format!(
                    "{file} is not JSON ({e}); it holds the body of POST /api/v1/namespaces, \
                     e.g. {{\"servers\": [\"github\"], \"tool_search\": \"on\"}}"
                ))
            })?
        }
    };
    if let (Some(name), Value::Object(map)) = (name, &mut value) {
        match map.get("name") {
            None => {
                map.insert("name".into(), json!(name));
            }
            Some(Value::String(n)) if n == name => {}
            Some(other) => {
                return Err(KeyadmError::Input(format!(
                    "the file names the namespace {other}, the command line {name:?}: \
                     make them the same, or leave \"name\" out of the file"
                )));
            }
        }
    }
    let given = match &value {
        Value::Object(map) => map.keys().filter(|k| *k != "name").cloned().collect(),
        _ => Vec::new(),
    };
    Ok((value, given))
}

/// The registry's refusal in the command line's words, with what to do next.
/// `body` is what `add` or `set` sent (none for the other commands).
fn explain(e: StoreError, name: &str, body: Option<(&Body, &Value)>) -> KeyadmError {
    const NOTHING: &str = "nothing was written";
    match e {
        StoreError::NotFound(m) => KeyadmError::Registry(StoreError::NotFound(format!(
            "{m}: `keyadm namespaces list` shows the namespaces there are, \
             `keyadm namespaces add {name} --server S` creates it"
        ))),
        StoreError::Conflict(m) => KeyadmError::Registry(StoreError::Conflict(format!(
            "{m}: `keyadm namespaces set {name} …` changes it, `keyadm namespaces show {name}` \
             shows it; or choose another name ({NOTHING})"
        ))),
        StoreError::Invalid(invalid) => {
            let field = invalid.field.as_deref().unwrap_or_default();
            let reason = invalid
                .message
                .strip_prefix(&format!("{field}: "))
                .unwrap_or(&invalid.message);
            let flag = FIELD_FLAGS
                .iter()
                .find(|(_, f)| *f == field)
                .map(|(f, _)| f);
            KeyadmError::Input(match (field, body, flag) {
                ("servers", _, _) if reason.starts_with("no server named") => format!(
                    "{reason}: `keyadm servers list` shows the registered servers, \
                     `keyadm servers add` registers one ({NOTHING})"
                ),
                ("name", Some((Body::Flags(_), _)), _) => {
                    format!("the namespace name {name:?} {reason} ({NOTHING})")
                }
                (_, Some((Body::Flags(_), sent)), Some(flag)) => match sent.get(field) {
                    // A guardrail's URL may hold a secret: not echoed.
                    Some(v) if field != "servers" && field != "guardrails" => {
                        format!("{flag} {reason}, not {v} ({NOTHING})")
                    }
                    _ => format!("{flag}: {reason} ({NOTHING})"),
                },
                (_, Some((Body::File(file), _)), _) => {
                    format!("{file}: {} ({NOTHING})", invalid.message)
                }
                _ => format!("{} ({NOTHING})", invalid.message),
            })
        }
        other => KeyadmError::Registry(other),
    }
}

/// `set --allow` and `--disallow`'s `tools`: the namespace's overrides, each tool
/// named switched on or off (its other settings kept) or added.
fn with_allowed(ns: &Namespace, allowed: &Map<String, Value>) -> Value {
    let mut tools = match ns.public_json().get("tools") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for (name, given) in allowed {
        let entry = tools.entry(name.clone()).or_insert_with(|| json!({}));
        entry["enabled"] = given.get("enabled").cloned().unwrap_or(json!(true));
    }
    Value::Object(tools)
}

/// What `add` and `set` print: the namespace's settings (`--json`: its object), the
/// fields changed, where clients reach it, and a hint when it has no servers yet.
fn written(ns: &Namespace, done: &str, changed: &[String], json: bool) -> String {
    if !ns.auth_required {
        eprintln!(
            "keyadm: warning: namespace {} is open without credentials (auth: none): \
             anyone who reaches the gateway may use its tools",
            ns.name
        );
    }
    if json {
        return super::line(ns.public_json());
    }
    let mut out = format!("{done} {}", ns.name);
    if !changed.is_empty() {
        out.push_str(&format!(" ({})", changed.join(", ")));
    }
    out.push('\n');
    out.push_str(&settings(ns));
    out.push_str(&format!(
        "clients reach it at /mcp/{}; running gateways apply the change as the database \
         announces it (NOTIFY)\n",
        ns.name
    ));
    if ns.servers.is_empty() {
        out.push_str(&format!(
            "it has no servers yet: `keyadm namespaces set {} --server S` gives it some\n",
            ns.name
        ));
    }
    out
}

/// A namespace's settings, one `key  value` per line.
fn settings(ns: &Namespace) -> String {
    let servers = if ns.servers.is_empty() {
        "-".to_string()
    } else {
        ns.servers.join(", ")
    };
    let v = ns.public_json();
    let mut out = String::new();
    for (label, value) in [
        ("servers", servers),
        (
            "description",
            ns.description.clone().unwrap_or_else(|| "-".into()),
        ),
        ("tool_prefix", text(&v["tool_prefix"])),
        ("tool_search", ns.tool_search.as_str().to_string()),
        ("code_mode", ns.code_mode.as_str().to_string()),
        ("validate_arguments", ns.validate_arguments.to_string()),
        ("auth", text(&v["auth"])),
        ("tools_default", text(&v["tools_default"])),
        ("tool overrides", ns.tools.len().to_string()),
        ("guardrails", ns.guardrails.len().to_string()),
    ] {
        let value = crate::cli::printable(&value).into_owned();
        out.push_str(&format!("  {label:<19} {value}\n"));
    }
    out
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// `show`: the settings, then the overrides and the times.
fn shown(ns: &Namespace) -> String {
    let v = ns.public_json();
    let mut out = format!("namespace {}\n{}", ns.name, settings(ns));
    if !ns.tools.is_empty() {
        out.push_str("tool overrides (JSON, as in the REST object):\n");
        let tools = serde_json::to_string_pretty(&v["tools"]).unwrap_or_default();
        for l in tools.lines() {
            out.push_str(&format!("  {l}\n"));
        }
    }
    if !ns.guardrails.is_empty() {
        out.push_str("guardrails (JSON, as in the REST object, URLs redacted):\n");
        let list = serde_json::to_string_pretty(&v["guardrails"]).unwrap_or_default();
        for l in list.lines() {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out.push_str(&format!(
        "  {:<19} {}\n  {:<19} {}\n",
        "created", ns.created_at, "updated", ns.updated_at
    ));
    out
}

fn table(all: &[Namespace]) -> String {
    let rows = all
        .iter()
        .map(|ns| {
            let v = ns.public_json();
            vec![
                ns.name.clone(),
                ns.servers.join(","),
                text(&v["tool_prefix"]),
                ns.tool_search.as_str().to_string(),
                ns.validate_arguments.to_string(),
                text(&v["auth"]),
                ns.description
                    .clone()
                    .map(|d| d.chars().take(60).collect())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    super::aligned(
        &[
            "NAME",
            "SERVERS",
            "TOOL PREFIX",
            "TOOL SEARCH",
            "VALIDATE",
            "AUTH",
            "DESCRIPTION",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands_parse_into_the_rest_body() {
        let NamespacesCommand::Add { name, body } = parse_namespaces(&words(
            "add team --server github --server slack --tool-search on \
             --validate-arguments true --tool-prefix never --auth none --description x",
        ))
        .unwrap() else {
            panic!("add")
        };
        assert_eq!(name, "team");
        let Body::Flags(map) = body else {
            panic!("flags")
        };
        assert_eq!(
            Value::Object(map),
            json!({"servers": ["github", "slack"], "tool_search": "on",
                   "validate_arguments": true, "tool_prefix": "never", "auth": "none",
                   "description": "x"})
        );
        // Only what is given; an empty description clears it; a bad value goes through
        // to the registry's validation as it was given.
        let NamespacesCommand::Set { body, .. } = parse_namespaces(&[
            "set".into(),
            "team".into(),
            "--description".into(),
            String::new(),
            "--validate-arguments".into(),
            "maybe".into(),
        ])
        .unwrap() else {
            panic!("set")
        };
        assert_eq!(
            body,
            Body::Flags(
                json!({"description": null, "validate_arguments": "maybe"})
                    .as_object()
                    .unwrap()
                    .clone()
            )
        );
        assert_eq!(
            parse_namespaces(&words("add team --file b.json")).unwrap(),
            NamespacesCommand::Add {
                name: "team".into(),
                body: Body::File("b.json".into())
            }
        );
        assert_eq!(
            parse_namespaces(&words("remove team --confirm")).unwrap(),
            NamespacesCommand::Remove {
                name: "team".into(),
                confirm: true
            }
        );
        assert_eq!(
            parse_namespaces(&words("show team")).unwrap(),
            NamespacesCommand::Show("team".into())
        );
        assert_eq!(
            parse_namespaces(&words("list")).unwrap(),
            NamespacesCommand::List
        );
    }

    #[test]
    fn bad_usage_is_refused_with_a_reason() {
        for (line, needle) in [
            ("", "list, show, add, set, remove"),
            ("frob", "frob"),
            ("add", "needs a NAME"),
            ("add a b", "one NAME"),
            ("set team", "needs something to change"),
            ("add team --server", "--server needs a value"),
            (
                "add team --tool-search on --tool-search off",
                "more than once",
            ),
            (
                "add team --file b.json --server s",
                "--file gives the whole body",
            ),
            ("list --server s", "does not apply"),
            ("remove team --tool-search on", "does not apply"),
            ("add team --bogus 1", "--bogus"),
        ] {
            let e = parse_namespaces(&words(line)).expect_err(line);
            assert!(e.0.contains(needle), "{line}: {e}");
        }
    }

    #[test]
    fn refusals_name_the_flag_the_value_and_what_next() {
        let body = Body::Flags(Map::new());
        let sent = json!({"tool_search": "sometimes", "servers": ["nope"]});
        let invalid = |field: &str, m: &str| {
            StoreError::Invalid(crate::model::validate::Invalid::field(field, m))
        };
        let said = |e: StoreError, b: Option<(&Body, &Value)>| explain(e, "team", b).to_string();
        let m = said(
            invalid("tool_search", "must be off, on or auto"),
            Some((&body, &sent)),
        );
        assert_eq!(
            m,
            "--tool-search must be off, on or auto, not \"sometimes\" (nothing was written)"
        );
        let m = said(
            invalid("servers", "no server named \"nope\""),
            Some((&body, &sent)),
        );
        assert!(m.contains("`keyadm servers list`"), "{m}");
        let file = Body::File("b.json".into());
        let m = said(
            invalid("auth", "must be required or none"),
            Some((&file, &sent)),
        );
        assert_eq!(
            m,
            "b.json: auth: must be required or none (nothing was written)"
        );
        let m = said(StoreError::NotFound("no namespace \"team\"".into()), None);
        assert!(m.contains("`keyadm namespaces list`"), "{m}");
        let e = explain(
            StoreError::Conflict("a namespace named \"team\" already exists".into()),
            "team",
            Some((&body, &sent)),
        );
        assert!(e.to_string().contains("namespaces set team"), "{e}");
        assert_eq!(e.exit_code(), 1);
    }
}
