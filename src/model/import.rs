//! `mcpServers` files, the configuration Claude Desktop, Claude Code, Cursor, Windsurf and
//! most MCP clients keep, read into registry server bodies and written back out.
//!
//! Accepted: `{"mcpServers": {NAME: ENTRY}}`, VS Code's `{"servers": {NAME: ENTRY}}`, or
//! the inner object alone. An entry is `{"command", "args", "env", "cwd"}` (stdio) or
//! `{"url", "type", "headers"}`: `type` absent, `http` or `streamable-http` is Streamable
//! HTTP, `sse` legacy SSE; `type: "stdio"` goes with `command`. `disabled: true` (Cline,
//! Windsurf) imports the server inactive. Names that break the registry's rule are
//! mapped to valid ones deterministically. `${VAR}` references stay as written
//! ([`crate::model::refs`]). Every problem is collected, each with its JSON path. A key
//! named twice in one object (two servers called `time`, an `env` variable given twice)
//! is a problem, reported with both places: JSON parsers keep the last silently, and
//! an import must not drop what the file says without a word.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::model::names::is_valid_name;
use crate::model::{MASK, Protocol, Server, refs};

/// Something wrong in the file, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// A name the registry's rule made us change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Renamed {
    pub from: String,
    pub to: String,
    pub path: String,
}

/// One server of the file, as a registry body.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The registry name (mapped when the file's breaks the rule).
    pub name: String,
    /// Where it is in the file (`$.mcpServers.time`).
    pub path: String,
    /// The fields this import sets: the transport's, and `is_active` when the entry
    /// says `disabled`. The gateway's own settings (timeouts, limits) are not touched.
    pub body: Map<String, Value>,
}

/// A file read whole.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    pub renamed: Vec<Renamed>,
    /// Members this reader does not use (`autoApprove`, …), reported and left out.
    pub ignored: Vec<Problem>,
    /// What is wrong in the entries that could not be read ([`read`]); those entries
    /// are not in `entries`, whose own problems the registry's validation adds.
    pub problems: Vec<Problem>,
}

/// Entry members other clients keep that mean nothing to a gateway.
const IGNORED_MEMBERS: &[&str] = &[
    "autoApprove",
    "alwaysAllow",
    "timeout",
    "description",
    "transportType",
    "envFile",
    "gallery",
    "version",
];

/// `$.a.b`, or `$.a["b c"]` when a member is no identifier.
pub fn member(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !key.as_bytes()[0].is_ascii_digit();
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

/// The registry name for a file's name: itself when valid; else every run of other
/// characters becomes one `-`, leading dashes go, and a name that had to be cut (or has
/// nothing left) ends in a hash of the original, so the mapping never depends on order.
pub fn map_name(original: &str) -> String {
    if is_valid_name(original) {
        return original.to_string();
    }
    let mut out = String::with_capacity(original.len());
    for c in original.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if !out.is_empty() && out.len() <= 32 {
        return out;
    }
    let hash = {
        use sha2::Digest;
        sha2::Sha256::digest(original.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let stem: String = out.chars().take(25).collect();
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        format!("server-{}", &hash[..8])
    } else {
        format!("{stem}-{}", &hash[..6])
    }
}

/// Reads a file. `Err` holds every problem found (nothing of such a file is used).
pub fn parse(bytes: &[u8]) -> Result<Parsed, Vec<Problem>> {
    let parsed = read(bytes)?;
    match parsed.problems.is_empty() {
        true => Ok(parsed),
        false => Err(parsed.problems),
    }
}

/// Reads a file as far as it can: `Err` when it is no file of servers at all (not JSON,
/// not an object of servers); otherwise the entries that could be read, with the
/// problems of the others and of keys named twice in [`Parsed::problems`], so an import
/// validates the readable ones too and reports every problem at once.
pub fn read(bytes: &[u8]) -> Result<Parsed, Vec<Problem>> {
    let duplicates = std::cell::RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let root: Value = serde::de::DeserializeSeed::deserialize(
        Checked {
            path: "$".into(),
            duplicates: &duplicates,
        },
        &mut de,
    )
    .and_then(|v| de.end().map(|()| v))
    .map_err(|e| {
        vec![Problem {
            path: "$".into(),
            message: format!("not JSON: {e}"),
        }]
    })?;
    let duplicates = duplicates.into_inner();
    let Value::Object(top) = &root else {
        return Err(vec![Problem {
            path: "$".into(),
            message: "must be an object with mcpServers (or servers)".into(),
        }]);
    };
    let (servers, base) = match (top.get("mcpServers"), top.get("servers")) {
        (Some(s), None) => (s, "$.mcpServers".to_string()),
        (None, Some(s)) => (s, "$.servers".to_string()),
        (Some(_), Some(_)) => {
            return Err(vec![Problem {
                path: "$".into(),
                message: "has both mcpServers and servers: keep one".into(),
            }]);
        }
        // The inner object alone: every member an entry.
        (None, None) => (&root, "$".to_string()),
    };
    let Value::Object(servers) = servers else {
        return Err(vec![Problem {
            path: base,
            message: "must be an object of servers by name".into(),
        }]);
    };
    let mut parsed = Parsed::default();
    let mut problems = duplicates;
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for (original, entry) in servers {
        let path = member(&base, original);
        let name = map_name(original);
        if let Some(first) = taken.insert(name.to_ascii_lowercase(), path.clone()) {
            problems.push(Problem {
                path: path.clone(),
                message: format!("becomes the server name {name:?}, as {first} does"),
            });
        }
        if name != *original {
            parsed.renamed.push(Renamed {
                from: original.clone(),
                to: name.clone(),
                path: path.clone(),
            });
        }
        match read_entry(entry, &path, &mut parsed.ignored) {
            Ok(body) => parsed.entries.push(Entry { name, path, body }),
            Err(mut p) => problems.append(&mut p),
        }
    }
    parsed.problems = problems;
    Ok(parsed)
}

/// Reads JSON into a [`Value`] as serde_json does, noting every key an object names a
/// second time (with both places: the member's path and its position among the
/// object's members).
struct Checked<'a> {
    path: String,
    duplicates: &'a std::cell::RefCell<Vec<Problem>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Checked<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Checked<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Checked {
            path: format!("{}[{}]", self.path, out.len()),
            duplicates: self.duplicates,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        // Each key's position among the members, 1-based, for the report.
        let mut first: BTreeMap<String, usize> = BTreeMap::new();
        let mut n = 0;
        while let Some(key) = map.next_key::<String>()? {
            n += 1;
            let path = member(&self.path, &key);
            let v = map.next_value_seed(Checked {
                path: path.clone(),
                duplicates: self.duplicates,
            })?;
            match first.get(&key) {
                Some(at) => self.duplicates.borrow_mut().push(Problem {
                    path,
                    message: format!(
                        "named twice in {}: members {at} and {n}; keep one (a JSON \
                         reader would silently keep the last)",
                        self.path
                    ),
                }),
                None => {
                    first.insert(key.clone(), n);
                }
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// The entry's protocol, from its `type` or from whether it has a command or a url;
/// what does not fit is told to `bad`.
fn protocol_of(
    kind: Option<&str>,
    command: &Option<String>,
    url: &Option<String>,
    bad: &mut dyn FnMut(&str, &str),
) -> Option<Protocol> {
    let protocol = match (kind, command, url) {
        (Some("stdio"), _, _) | (None, Some(_), None) => Some(Protocol::Stdio),
        (Some("http" | "streamable-http" | "streamableHttp"), _, _) | (None, None, Some(_)) => {
            Some(Protocol::Http)
        }
        (Some("sse"), _, _) => Some(Protocol::Sse),
        (Some(other), _, _) => {
            bad(
                "type",
                &format!("unknown type {other:?} (expected stdio, http, streamable-http or sse)"),
            );
            None
        }
        (None, Some(_), Some(_)) => {
            bad(
                "url",
                "an entry has either command (stdio) or url, not both",
            );
            None
        }
        (None, None, None) => {
            bad("command", "an entry needs command (stdio) or url");
            None
        }
    };
    match protocol {
        Some(Protocol::Stdio) if command.is_none() => bad("command", "is required for stdio"),
        Some(Protocol::Http | Protocol::Sse) if url.is_none() => {
            bad("url", "is required for http and sse")
        }
        _ => {}
    }
    protocol
}

/// Members of an entry the gateway does not use: each noted as left out.
fn note_ignored(e: &Map<String, Value>, path: &str, ignored: &mut Vec<Problem>) {
    for key in e.keys() {
        let used = [
            "command", "args", "env", "cwd", "url", "type", "headers", "disabled",
        ];
        if used.contains(&key.as_str()) {
            continue;
        }
        let message = if IGNORED_MEMBERS.contains(&key.as_str()) {
            "not used by the gateway: left out"
        } else {
            "unknown member: left out"
        };
        ignored.push(Problem {
            path: member(path, key),
            message: message.into(),
        });
    }
}

/// What an entry says of its server, read and checked.
struct Picked {
    protocol: Protocol,
    command: Option<String>,
    args: Vec<String>,
    env: Map<String, Value>,
    cwd: Option<String>,
    url: Option<String>,
    headers: Map<String, Value>,
    disabled: Option<bool>,
}

/// The registry's server object for an entry.
fn server_body(p: Picked) -> Map<String, Value> {
    let nullable_map = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    let mut body = match p.protocol {
        Protocol::Stdio => json!({
            "protocol": "stdio", "command": p.command, "args": p.args,
            "env": nullable_map(p.env), "cwd": p.cwd, "url": null, "headers": null,
        }),
        _ => json!({
            "protocol": p.protocol.as_str(), "url": p.url, "headers": nullable_map(p.headers),
            "command": null, "args": null, "env": null, "cwd": null,
        }),
    };
    if let Some(d) = p.disabled {
        body["is_active"] = Value::Bool(!d);
    }
    match body {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn read_entry(
    entry: &Value,
    path: &str,
    ignored: &mut Vec<Problem>,
) -> Result<Map<String, Value>, Vec<Problem>> {
    let Value::Object(e) = entry else {
        return Err(vec![Problem {
            path: path.to_string(),
            message: "must be an object".into(),
        }]);
    };
    let mut problems = Vec::new();
    // `key` is a member, `a.b` a member of a member, `a[0]` an array's item.
    let mut bad = |key: &str, message: &str| {
        let (key, index) = match key.split_once('[') {
            Some((k, i)) => (k, Some(i)),
            None => (key, None),
        };
        let mut at = path.to_string();
        let mut parts = key.splitn(2, '.');
        for part in parts.by_ref() {
            at = member(&at, part);
        }
        if let Some(i) = index {
            at = format!("{at}[{i}");
        }
        problems.push(Problem {
            path: at,
            message: message.to_string(),
        })
    };
    let string = |key: &str, bad: &mut dyn FnMut(&str, &str)| -> Option<String> {
        match e.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                bad(key, "must be a string");
                None
            }
        }
    };
    let command = string("command", &mut bad);
    let url = string("url", &mut bad);
    let cwd = string("cwd", &mut bad);
    let kind = string("type", &mut bad);
    let protocol = protocol_of(kind.as_deref(), &command, &url, &mut bad);
    let args = match e.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Value::String(s) => Some(s.clone()),
                _ => {
                    bad(&format!("args[{i}]"), "must be a string");
                    None
                }
            })
            .collect(),
        Some(_) => {
            bad("args", "must be an array of strings");
            Vec::new()
        }
    };
    let mut map_of = |key: &str| -> Map<String, Value> {
        match e.get(key) {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => {
                let mut out = Map::new();
                for (k, v) in m {
                    match v {
                        Value::String(s) => {
                            if let Err(err) = refs::check(s) {
                                bad(&format!("{key}.{k}"), &err.to_string());
                            }
                            out.insert(k.clone(), Value::String(s.clone()));
                        }
                        _ => bad(&format!("{key}.{k}"), "must be a string"),
                    }
                }
                out
            }
            Some(_) => {
                bad(key, "must be an object of strings");
                Map::new()
            }
        }
    };
    let env = map_of("env");
    let headers = map_of("headers");
    let disabled = match e.get("disabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            bad("disabled", "must be true or false");
            None
        }
    };
    note_ignored(e, path, ignored);
    if protocol == Some(Protocol::Stdio) && !headers.is_empty() {
        bad("headers", "stdio servers take env, not headers");
    }
    if matches!(protocol, Some(Protocol::Http | Protocol::Sse)) {
        if !env.is_empty() {
            bad("env", "http and sse servers take headers, not env");
        }
        if !args.is_empty() {
            bad("args", "http and sse servers take no args");
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let Some(protocol) = protocol else {
        return Err(problems);
    };
    Ok(server_body(Picked {
        protocol,
        command,
        args,
        env,
        cwd,
        url,
        headers,
        disabled,
    }))
}

/// A secret map as an export shows it: references as written, anything else masked.
fn exported_secrets(map: &BTreeMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| {
                let shown = if refs::is_shareable(v) {
                    v.as_str()
                } else {
                    MASK
                };
                (k.clone(), Value::String(shown.to_string()))
            })
            .collect(),
    )
}

/// One server as an `mcpServers` entry.
pub fn export_entry(s: &Server) -> Value {
    let mut e = Map::new();
    match s.protocol {
        Protocol::Stdio => {
            e.insert("command".into(), json!(s.command));
            if !s.args.is_empty() {
                e.insert("args".into(), json!(s.args));
            }
            if !s.env.is_empty() {
                e.insert("env".into(), exported_secrets(&s.env));
            }
            if let Some(cwd) = &s.cwd {
                e.insert("cwd".into(), json!(cwd));
            }
        }
        Protocol::Http | Protocol::Sse => {
            e.insert("type".into(), json!(s.protocol.as_str()));
            e.insert("url".into(), json!(s.url));
            if !s.headers.is_empty() {
                e.insert("headers".into(), exported_secrets(&s.headers));
            }
        }
    }
    if !s.is_active {
        e.insert("disabled".into(), Value::Bool(true));
    }
    Value::Object(e)
}

/// Servers as an `mcpServers` file.
pub fn export<'a>(servers: impl IntoIterator<Item = &'a Server>) -> Value {
    let entries: Map<String, Value> = servers
        .into_iter()
        .map(|s| (s.name.clone(), export_entry(s)))
        .collect();
    json!({ "mcpServers": entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_valid_unique_ones_deterministically() {
        assert_eq!(map_name("time"), "time");
        assert_eq!(map_name("my_server"), "my-server");
        assert_eq!(map_name("@org/github mcp"), "org-github-mcp");
        assert_eq!(map_name("--x--"), "x");
        let long = "a".repeat(40);
        let mapped = map_name(&long);
        assert!(is_valid_name(&mapped) && mapped.len() == 32, "{mapped}");
        assert_eq!(map_name(&long), mapped);
        assert_ne!(map_name(&"a".repeat(41)), mapped);
        let none = map_name("日本");
        assert!(
            none.starts_with("server-") && is_valid_name(&none),
            "{none}"
        );
        assert_eq!(member("$.mcpServers", "a b"), "$.mcpServers[\"a b\"]");
        assert_eq!(member("$.mcpServers", "time"), "$.mcpServers.time");
    }

    #[test]
    fn a_key_named_twice_is_a_problem_with_both_places() {
        let problems = parse(
            br#"{"mcpServers": {"time": {"command": "a"}, "x": {"url": "http://h/"},
                "time": {"command": "b", "env": {"K": "1", "K": "2"}}}}"#,
        )
        .unwrap_err();
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        assert!(
            found.contains(&(
                "$.mcpServers.time",
                "named twice in $.mcpServers: members 1 and 3; keep one (a JSON reader \
                 would silently keep the last)"
            )),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(p, m)| *p == "$.mcpServers.time.env.K" && m.contains("members 1 and 2")),
            "{found:?}"
        );
        // Without duplicates the same file reads as before.
        let ok = parse(br#"{"mcpServers": {"time": {"command": "a", "args": [1.5e0, "x"]}}}"#);
        assert!(ok.is_err(), "args must be strings: still reported");
        let ok = parse(br#"{"mcpServers": {"time": {"command": "a", "args": ["x"]}}}"#).unwrap();
        assert_eq!(ok.entries.len(), 1);
        assert!(parse(br#"{"mcpServers": {}} trailing"#).is_err());
    }

    #[test]
    fn every_format_reads_and_every_problem_is_reported() {
        let p = parse(
            br#"{"servers": {"a": {"type": "sse", "url": "http://h/sse"},
                                        "b": {"command": "x", "args": ["1"], "disabled": true}}}"#,
        )
        .unwrap();
        assert_eq!(p.entries[0].body["protocol"], "sse");
        assert_eq!(p.entries[1].body["is_active"], false);
        let inner = parse(br#"{"t": {"url": "http://h/mcp", "autoApprove": []}}"#).unwrap();
        assert_eq!(inner.entries[0].body["protocol"], "http");
        assert_eq!(inner.ignored[0].path, "$.t.autoApprove");
        let bad = parse(
            br#"{"mcpServers": {"a": {"type": "ws", "url": "u"}, "b": {"args": [1]},
                               "c": 3, "d_x": {"command": "x"}, "d-x": {"command": "y"},
                               "e": {"url": "u", "env": {"A": "1"}, "headers": {"H": 2}}}}"#,
        )
        .unwrap_err();
        let paths: Vec<&str> = bad.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "$.mcpServers.a.type",
            "$.mcpServers.b.command",
            "$.mcpServers.b.args[0]",
            "$.mcpServers.c",
            "$.mcpServers.e.headers.H",
            "$.mcpServers.e.env",
        ] {
            assert!(paths.contains(&want), "{want} in {bad:#?}");
        }
        assert!(
            bad.iter()
                .any(|p| p.message.contains("becomes the server name \"d-x\"")),
            "{bad:#?}"
        );
        assert_eq!(parse(b"nope").unwrap_err()[0].path, "$");
        assert!(parse(br#"{"mcpServers": {}, "servers": {}}"#).is_err());
    }
}
