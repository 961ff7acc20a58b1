//! A tool's `inputSchema`, compiled once (when the tool's list changes) into a flat
//! table of checks, and the check of one call's arguments against it.
//!
//! The JSON Schema 2020-12 keywords a tool's arguments are described with are checked:
//! `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
//! `minProperties`/`maxProperties`, `items`, `prefixItems`, `minItems`/`maxItems`,
//! `uniqueItems`, `minLength`/`maxLength`, `minimum`/`maximum`,
//! `exclusiveMinimum`/`exclusiveMaximum`, `multipleOf`, `allOf`/`anyOf`/`oneOf`/`not`,
//! and `$ref` to a place in the same schema (`#`, `#/$defs/…`, `#/definitions/…`, any
//! JSON pointer). Others (`pattern`, `format`, `if`/`then`/`else`, `dependentSchemas`,
//! remote `$ref`s) are not checked: what they would refuse is left to the tool. Bounded:
//! a schema of more than [`MAX_NODES`] subschemas is not compiled (its tool's calls are
//! not checked), and a check goes at most [`MAX_DEPTH`] subschemas deep.

use std::collections::HashMap;

use serde_json::Value;

/// Subschemas one compiled schema may hold.
pub const MAX_NODES: usize = 4096;
/// How deep one check may go (through `$ref`s too) before it gives up, refusing.
pub const MAX_DEPTH: usize = 64;

const NULL: u8 = 1;
const BOOLEAN: u8 = 2;
const INTEGER: u8 = 4;
const NUMBER: u8 = 8;
const STRING: u8 = 16;
const ARRAY: u8 = 32;
const OBJECT: u8 = 64;

/// A compiled schema.
#[derive(Debug)]
pub struct Schema {
    nodes: Vec<Node>,
}

/// Why a schema was not compiled.
#[derive(Debug, PartialEq)]
pub enum NotCompiled {
    TooLarge,
    /// A `$ref` that does not point into the schema.
    Unresolved(String),
}

#[derive(Debug, Default)]
struct Node {
    /// `false`: nothing is valid.
    never: bool,
    /// Allowed types (0: any).
    types: u8,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    properties: Vec<(String, usize)>,
    required: Vec<String>,
    additional: Option<usize>,
    min_properties: Option<usize>,
    max_properties: Option<usize>,
    items: Option<usize>,
    prefix_items: Vec<usize>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    unique_items: bool,
    min_length: Option<usize>,
    max_length: Option<usize>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
    all_of: Vec<usize>,
    any_of: Vec<usize>,
    one_of: Vec<usize>,
    not: Option<usize>,
    reference: Option<usize>,
}

/// Where the arguments do not match, and how.
#[derive(Debug, PartialEq)]
pub struct Mismatch {
    /// A JSON pointer into the arguments (`""`: the arguments object itself).
    pub pointer: String,
    pub message: String,
}

impl Schema {
    pub fn compile(root: &Value) -> Result<Schema, NotCompiled> {
        let mut c = Compiler {
            nodes: Vec::new(),
            at: HashMap::new(),
            refs: Vec::new(),
        };
        c.node(root, String::new())?;
        while let Some((node, pointer)) = c.refs.pop() {
            let target = match c.at.get(&pointer) {
                Some(i) => *i,
                None => {
                    let value = root
                        .pointer(&pointer)
                        .ok_or_else(|| NotCompiled::Unresolved(format!("#{pointer}")))?;
                    c.node(value, pointer)?
                }
            };
            c.nodes[node].reference = Some(target);
        }
        Ok(Schema { nodes: c.nodes })
    }

    /// The first place where `value` does not match.
    pub fn check(&self, value: &Value) -> Result<(), Mismatch> {
        let mut pointer = String::new();
        self.at(0, value, &mut pointer, 0)
    }

    fn at(&self, n: usize, v: &Value, pointer: &mut String, depth: usize) -> Result<(), Mismatch> {
        let fail = |pointer: &String, message: String| {
            Err(Mismatch {
                pointer: pointer.clone(),
                message,
            })
        };
        if depth > MAX_DEPTH {
            return fail(pointer, format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let node = &self.nodes[n];
        if node.never {
            return fail(pointer, "no value is allowed here".into());
        }
        if node.types != 0 && node.types & type_of(v) == 0 {
            return fail(pointer, format!("must be {}", type_names(node.types)));
        }
        if let Some(e) = &node.enumeration
            && !e.iter().any(|x| same(x, v))
        {
            return fail(
                pointer,
                format!("must be one of {}", Value::Array(e.clone())),
            );
        }
        if let Some(c) = &node.constant
            && !same(c, v)
        {
            return fail(pointer, format!("must be {c}"));
        }
        match v {
            Value::Object(m) => self.object(node, m, pointer, depth)?,
            Value::Array(a) => self.array(node, a, pointer, depth)?,
            Value::String(s) => {
                let len = s.chars().count();
                if node.min_length.is_some_and(|m| len < m)
                    || node.max_length.is_some_and(|m| len > m)
                {
                    return fail(
                        pointer,
                        length_rule("characters", node.min_length, node.max_length),
                    );
                }
            }
            Value::Number(x) => {
                if let Some(message) = number_rule(node, x.as_f64().unwrap_or(f64::NAN)) {
                    return fail(pointer, message);
                }
            }
            _ => {}
        }
        for s in &node.all_of {
            self.at(*s, v, pointer, depth + 1)?;
        }
        if !node.any_of.is_empty()
            && !node
                .any_of
                .iter()
                .any(|s| self.at(*s, v, &mut pointer.clone(), depth + 1).is_ok())
        {
            return fail(pointer, "matches none of the allowed forms (anyOf)".into());
        }
        if !node.one_of.is_empty() {
            let matching = node
                .one_of
                .iter()
                .filter(|s| self.at(**s, v, &mut pointer.clone(), depth + 1).is_ok())
                .count();
            if matching != 1 {
                return fail(
                    pointer,
                    format!("must match exactly one allowed form (oneOf), matches {matching}"),
                );
            }
        }
        if let Some(s) = node.not
            && self.at(s, v, &mut pointer.clone(), depth + 1).is_ok()
        {
            return fail(pointer, "matches a form that is not allowed (not)".into());
        }
        if let Some(r) = node.reference {
            self.at(r, v, pointer, depth + 1)?;
        }
        Ok(())
    }

    fn object(
        &self,
        node: &Node,
        m: &serde_json::Map<String, Value>,
        pointer: &mut String,
        depth: usize,
    ) -> Result<(), Mismatch> {
        if let Some(missing) = node.required.iter().find(|r| !m.contains_key(*r)) {
            return Err(Mismatch {
                pointer: pointer.clone(),
                message: format!("{missing:?} is required"),
            });
        }
        if node.min_properties.is_some_and(|x| m.len() < x)
            || node.max_properties.is_some_and(|x| m.len() > x)
        {
            return Err(Mismatch {
                pointer: pointer.clone(),
                message: length_rule("properties", node.min_properties, node.max_properties),
            });
        }
        for (k, v) in m {
            let sub = node
                .properties
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, s)| *s)
                .or(node.additional);
            if let Some(s) = sub {
                let len = pointer.len();
                push_token(pointer, k);
                if self.nodes[s].never && node.additional == Some(s) {
                    pointer.truncate(len);
                    return Err(Mismatch {
                        pointer: pointer.clone(),
                        message: format!("{k:?} is not a known argument"),
                    });
                }
                self.at(s, v, pointer, depth + 1)?;
                pointer.truncate(len);
            }
        }
        Ok(())
    }

    fn array(
        &self,
        node: &Node,
        a: &[Value],
        pointer: &mut String,
        depth: usize,
    ) -> Result<(), Mismatch> {
        if node.min_items.is_some_and(|x| a.len() < x)
            || node.max_items.is_some_and(|x| a.len() > x)
        {
            return Err(Mismatch {
                pointer: pointer.clone(),
                message: length_rule("items", node.min_items, node.max_items),
            });
        }
        if node.unique_items
            && let Some(j) = (1..a.len()).find(|&j| a[..j].iter().any(|x| same(x, &a[j])))
        {
            return Err(Mismatch {
                pointer: format!("{pointer}/{j}"),
                message: "repeats an earlier item; items must be unique".into(),
            });
        }
        for (i, v) in a.iter().enumerate() {
            let sub = node.prefix_items.get(i).copied().or(node.items);
            if let Some(s) = sub {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                self.at(s, v, pointer, depth + 1)?;
                pointer.truncate(len);
            }
        }
        Ok(())
    }
}

struct Compiler {
    nodes: Vec<Node>,
    /// Subschemas compiled so far, by their JSON pointer in the root.
    at: HashMap<String, usize>,
    /// `$ref`s to resolve: the node holding one, and the pointer it names.
    refs: Vec<(usize, String)>,
}

impl Compiler {
    fn node(&mut self, v: &Value, pointer: String) -> Result<usize, NotCompiled> {
        if self.nodes.len() >= MAX_NODES {
            return Err(NotCompiled::TooLarge);
        }
        let i = self.nodes.len();
        self.nodes.push(Node::default());
        self.at.insert(pointer.clone(), i);
        let o = match v {
            Value::Bool(b) => {
                self.nodes[i].never = !b;
                return Ok(i);
            }
            Value::Object(o) => o,
            _ => return Ok(i),
        };
        let mut n = Node {
            types: o.get("type").map_or(0, types),
            enumeration: o.get("enum").and_then(Value::as_array).cloned(),
            constant: o.get("const").cloned(),
            required: o
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            min_properties: count(o, "minProperties"),
            max_properties: count(o, "maxProperties"),
            min_items: count(o, "minItems"),
            max_items: count(o, "maxItems"),
            unique_items: o.get("uniqueItems") == Some(&Value::Bool(true)),
            min_length: count(o, "minLength"),
            max_length: count(o, "maxLength"),
            minimum: o.get("minimum").and_then(Value::as_f64),
            maximum: o.get("maximum").and_then(Value::as_f64),
            exclusive_minimum: o.get("exclusiveMinimum").and_then(Value::as_f64),
            exclusive_maximum: o.get("exclusiveMaximum").and_then(Value::as_f64),
            multiple_of: o
                .get("multipleOf")
                .and_then(Value::as_f64)
                .filter(|m| *m > 0.0),
            ..Node::default()
        };
        if let Some(Value::Object(props)) = o.get("properties") {
            for (k, s) in props {
                let at = format!("{pointer}/properties/{}", escape(k));
                n.properties.push((k.clone(), self.node(s, at)?));
            }
        }
        if let Some(s) = o.get("additionalProperties") {
            n.additional = Some(self.node(s, format!("{pointer}/additionalProperties"))?);
        }
        match o.get("items") {
            // Draft 7's array form of `items` is 2020-12's `prefixItems`.
            Some(Value::Array(list)) => {
                n.prefix_items = self.list(list, &format!("{pointer}/items"))?
            }
            Some(s) => n.items = Some(self.node(s, format!("{pointer}/items"))?),
            None => {}
        }
        if let Some(Value::Array(list)) = o.get("prefixItems") {
            n.prefix_items = self.list(list, &format!("{pointer}/prefixItems"))?;
        }
        for (key, into) in [
            ("allOf", &mut n.all_of),
            ("anyOf", &mut n.any_of),
            ("oneOf", &mut n.one_of),
        ] {
            if let Some(Value::Array(list)) = o.get(key) {
                *into = self.list(list, &format!("{pointer}/{key}"))?;
            }
        }
        if let Some(s) = o.get("not") {
            n.not = Some(self.node(s, format!("{pointer}/not"))?);
        }
        // Subschemas a `$ref` may name are compiled when one does (below).
        if let Some(r) = o.get("$ref").and_then(Value::as_str) {
            let Some(target) = r.strip_prefix('#') else {
                return Err(NotCompiled::Unresolved(r.to_string()));
            };
            self.refs.push((i, unescape_uri(target)));
        }
        self.nodes[i] = n;
        Ok(i)
    }

    fn list(&mut self, list: &[Value], pointer: &str) -> Result<Vec<usize>, NotCompiled> {
        list.iter()
            .enumerate()
            .map(|(k, s)| self.node(s, format!("{pointer}/{k}")))
            .collect()
    }
}

fn count(o: &serde_json::Map<String, Value>, key: &str) -> Option<usize> {
    o.get(key)
        .and_then(Value::as_u64)
        .map(|x| usize::try_from(x).unwrap_or(usize::MAX))
}

fn types(t: &Value) -> u8 {
    let one = |s: &str| match s {
        "null" => NULL,
        "boolean" => BOOLEAN,
        "integer" => INTEGER,
        "number" => NUMBER | INTEGER,
        "string" => STRING,
        "array" => ARRAY,
        "object" => OBJECT,
        _ => 0,
    };
    match t {
        Value::String(s) => one(s),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .fold(0, |m, s| m | one(s)),
        _ => 0,
    }
}

fn type_of(v: &Value) -> u8 {
    match v {
        Value::Null => NULL,
        Value::Bool(_) => BOOLEAN,
        Value::Number(n) if n.is_i64() || n.is_u64() => INTEGER | NUMBER,
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => INTEGER | NUMBER,
        Value::Number(_) => NUMBER,
        Value::String(_) => STRING,
        Value::Array(_) => ARRAY,
        Value::Object(_) => OBJECT,
    }
}

fn type_names(mask: u8) -> String {
    let names: Vec<&str> = [
        (NULL, "null"),
        (BOOLEAN, "a boolean"),
        (INTEGER, "an integer"),
        (NUMBER, "a number"),
        (STRING, "a string"),
        (ARRAY, "an array"),
        (OBJECT, "an object"),
    ]
    .into_iter()
    .filter(|(bit, _)| mask & bit != 0 && !(*bit == INTEGER && mask & NUMBER != 0))
    .map(|(_, n)| n)
    .collect();
    names.join(" or ")
}

/// JSON equality with numbers compared by value (`1` and `1.0` are the same).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn number_rule(n: &Node, x: f64) -> Option<String> {
    if n.minimum.is_some_and(|m| x < m) {
        return n.minimum.map(|m| format!("must be at least {m}"));
    }
    if n.maximum.is_some_and(|m| x > m) {
        return n.maximum.map(|m| format!("must be at most {m}"));
    }
    if n.exclusive_minimum.is_some_and(|m| x <= m) {
        return n
            .exclusive_minimum
            .map(|m| format!("must be more than {m}"));
    }
    if n.exclusive_maximum.is_some_and(|m| x >= m) {
        return n
            .exclusive_maximum
            .map(|m| format!("must be less than {m}"));
    }
    if let Some(m) = n.multiple_of {
        let q = x / m;
        if (q - q.round()).abs() > 1e-9 {
            return Some(format!("must be a multiple of {m}"));
        }
    }
    None
}

fn length_rule(what: &str, min: Option<usize>, max: Option<usize>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("must have {a} to {b} {what}"),
        (Some(a), None) => format!("must have at least {a} {what}"),
        (None, Some(b)) => format!("must have at most {b} {what}"),
        (None, None) => String::new(),
    }
}

/// A JSON pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&escape(token));
}

/// A `$ref` fragment is URI-encoded (`%25` for `%`, `%22` for `"`, …).
fn unescape_uri(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, v: Value) -> Result<(), Mismatch> {
        Schema::compile(&schema).expect("compiles").check(&v)
    }

    fn at(schema: Value, v: Value) -> String {
        check(schema, v).expect_err("a mismatch").pointer
    }

    #[test]
    fn types_required_and_unknown_arguments() {
        let s = json!({"type": "object", "properties": {"count": {"type": "integer"},
                       "name": {"type": "string", "minLength": 2}},
                       "required": ["count"], "additionalProperties": false});
        assert!(check(s.clone(), json!({"count": 3, "name": "ab"})).is_ok());
        assert!(
            check(s.clone(), json!({"count": 3.0})).is_ok(),
            "3.0 is an integer"
        );
        let e = check(s.clone(), json!({"count": "3"})).unwrap_err();
        assert_eq!(
            (e.pointer.as_str(), e.message.as_str()),
            ("/count", "must be an integer")
        );
        let e = check(s.clone(), json!({})).unwrap_err();
        assert_eq!(
            (e.pointer.as_str(), e.message.as_str()),
            ("", "\"count\" is required")
        );
        let e = check(s.clone(), json!({"count": 1, "extra": 1})).unwrap_err();
        assert_eq!(e.message, "\"extra\" is not a known argument");
        assert_eq!(at(s, json!({"count": 1, "name": "a"})), "/name");
    }

    #[test]
    fn nested_arrays_numbers_and_enums() {
        let s = json!({"type": "object", "properties": {"a/b": {"type": "array",
            "items": {"type": "object", "properties": {"n": {"minimum": 0, "maximum": 10,
            "multipleOf": 0.5}, "k": {"enum": ["x", "y"]}}}, "maxItems": 3, "uniqueItems": true}}});
        assert!(check(s.clone(), json!({"a/b": [{"n": 1.5, "k": "x"}]})).is_ok());
        assert_eq!(
            at(s.clone(), json!({"a/b": [{"n": 1}, {"n": 11}]})),
            "/a~1b/1/n"
        );
        assert_eq!(at(s.clone(), json!({"a/b": [{"n": 1.25}]})), "/a~1b/0/n");
        assert_eq!(at(s.clone(), json!({"a/b": [{"k": "z"}]})), "/a~1b/0/k");
        assert_eq!(at(s.clone(), json!({"a/b": [1, 2, 3, 4]})), "/a~1b");
        assert_eq!(at(s, json!({"a/b": [{"n": 1}, {"n": 1.0}]})), "/a~1b/1");
    }

    #[test]
    fn combinators_and_refs() {
        let s = json!({"$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0},
                       "node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"},
                                "v": {"$ref": "#/$defs/pos"}}}},
                       "type": "object",
                       "properties": {"tree": {"$ref": "#/$defs/node"},
                                      "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                                      "some": {"anyOf": [{"const": 1}, {"const": 2}]},
                                      "not_null": {"not": {"type": "null"}}}});
        assert!(
            check(
                s.clone(),
                json!({"tree": {"v": 1, "next": {"v": 2}}, "either": 1, "some": 2})
            )
            .is_ok()
        );
        assert_eq!(
            at(s.clone(), json!({"tree": {"next": {"next": {"v": 0}}}})),
            "/tree/next/next/v"
        );
        assert_eq!(at(s.clone(), json!({"either": 1.5})), "/either");
        assert_eq!(at(s.clone(), json!({"some": 3})), "/some");
        assert_eq!(at(s, json!({"not_null": null})), "/not_null");
    }

    #[test]
    fn hostile_schemas_are_bounded() {
        // A reference to itself, consuming nothing: refused at the depth bound, not a
        // stack overflow.
        let s = json!({"$ref": "#"});
        let e = check(s, json!(1)).unwrap_err();
        assert!(e.message.contains("deeper than"), "{e:?}");
        // Too many subschemas: not compiled.
        let wide: serde_json::Map<String, Value> = (0..MAX_NODES + 1)
            .map(|i| (format!("p{i}"), json!({})))
            .collect();
        assert_eq!(
            Schema::compile(&json!({"properties": wide})).unwrap_err(),
            NotCompiled::TooLarge
        );
        assert!(matches!(
            Schema::compile(&json!({"$ref": "https://example.com/s.json"})),
            Err(NotCompiled::Unresolved(_))
        ));
        assert!(matches!(
            Schema::compile(&json!({"$ref": "#/$defs/missing"})),
            Err(NotCompiled::Unresolved(_))
        ));
        // Unchecked keywords pass.
        assert!(
            check(
                json!({"type": "string", "pattern": "^a$", "format": "email"}),
                json!("b")
            )
            .is_ok()
        );
        assert!(check(json!(false), json!(1)).is_err());
        assert!(check(json!(true), json!(1)).is_ok());
        assert!(
            check(
                json!({"$defs": {"a%25": {"type": "string"}}, "$ref": "#/$defs/a%2525"}),
                json!(1)
            )
            .is_err()
        );
    }
}
