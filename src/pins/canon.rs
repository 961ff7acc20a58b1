//! A definition's canonical form and its digest: what a pin holds. A tool's is its name,
//! title, description, `inputSchema`, `outputSchema` and annotations; a prompt's its name,
//! title, description and arguments. Members are sorted at every depth (serde_json's map
//! is ordered), so a server that reorders its JSON changes nothing; anything else (icons,
//! `_meta`) is not part of what a model is told and is left out.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Item;

/// The members of a definition a pin covers.
const TOOL: &[&str] = &[
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];
const PROMPT: &[&str] = &["name", "title", "description", "arguments"];

/// `definition`'s canonical form (the members a pin covers; absent ones left out).
pub fn canonical(item: Item, definition: &Value) -> Value {
    let keys = match item {
        Item::Tool => TOOL,
        Item::Prompt => PROMPT,
    };
    let mut out = Map::new();
    for k in keys {
        if let Some(v) = definition.get(*k).filter(|v| !v.is_null()) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

/// The SHA-256 of `canonical`'s JSON, in lower-case hex.
pub fn digest(canonical: &Value) -> String {
    let hash = Sha256::digest(canonical.to_string().as_bytes());
    let mut hex = String::with_capacity(64);
    for b in hash {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// What differs between two definitions, member by member: `{"path", "change",
/// "before", "after"}` for each value `added`, `removed` or `changed` (JSON Pointer
/// paths; arrays compared whole). A definition with nothing before it (a new tool) is
/// each of its members added, not one change of the whole from nothing.
pub fn diff(before: &Value, after: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    walk(before, after, &mut String::new(), &mut out);
    out
}

fn walk(before: &Value, after: &Value, path: &mut String, out: &mut Vec<Value>) {
    let none = serde_json::Map::new();
    let members = match (before, after) {
        (Value::Object(a), Value::Object(b)) => Some((a, b)),
        (Value::Null, Value::Object(b)) if !b.is_empty() => Some((&none, b)),
        (Value::Object(a), Value::Null) if !a.is_empty() => Some((a, &none)),
        _ => None,
    };
    match members {
        Some((a, b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let len = path.len();
                path.push('/');
                path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                let null = Value::Null;
                walk(
                    a.get(k).unwrap_or(&null),
                    b.get(k).unwrap_or(&null),
                    path,
                    out,
                );
                path.truncate(len);
            }
        }
        None if before == after => {}
        None => {
            let change = match (before, after) {
                (Value::Null, _) => "added",
                (_, Value::Null) => "removed",
                _ => "changed",
            };
            out.push(serde_json::json!({"path": path.clone(), "change": change,
                "before": before, "after": after}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_and_extras_change_nothing_text_does() {
        let a = json!({"name": "t", "description": "d", "inputSchema": {"b": 1, "a": 2},
                       "icons": [1], "_meta": {"x": 1}});
        let b = json!({"inputSchema": {"a": 2, "b": 1}, "description": "d", "name": "t"});
        assert_eq!(
            digest(&canonical(Item::Tool, &a)),
            digest(&canonical(Item::Tool, &b))
        );
        let c = json!({"name": "t", "description": "d ", "inputSchema": {"a": 2, "b": 1}});
        assert_ne!(
            digest(&canonical(Item::Tool, &b)),
            digest(&canonical(Item::Tool, &c))
        );
        assert_eq!(digest(&json!({})).len(), 64);
    }

    #[test]
    fn the_diff_names_each_change_by_path() {
        let d = diff(
            &json!({"description": "old", "inputSchema": {"properties": {"a": {"type": "string"}}}}),
            &json!({"description": "new", "inputSchema": {"properties": {"a": {"type": "number"}, "b/c": {}}}}),
        );
        assert_eq!(
            d,
            vec![
                json!({"path": "/description", "change": "changed", "before": "old", "after": "new"}),
                json!({"path": "/inputSchema/properties/a/type", "change": "changed", "before": "string", "after": "number"}),
                json!({"path": "/inputSchema/properties/b~1c", "change": "added", "before": null, "after": {}}),
            ]
        );
    }

    #[test]
    fn a_new_definition_is_its_members_added() {
        let added = json!({"name": "wipe", "description": "Deletes",
                           "inputSchema": {"type": "object"}});
        assert_eq!(
            diff(&Value::Null, &added),
            vec![
                json!({"path": "/description", "change": "added", "before": null, "after": "Deletes"}),
                json!({"path": "/inputSchema/type", "change": "added", "before": null, "after": "object"}),
                json!({"path": "/name", "change": "added", "before": null, "after": "wipe"}),
            ]
        );
        // And one gone is its members removed.
        let gone = diff(&added, &Value::Null);
        assert_eq!(gone.len(), 3);
        assert!(
            gone.iter()
                .all(|d| d["change"] == "removed" && d["after"].is_null())
        );
    }
}
