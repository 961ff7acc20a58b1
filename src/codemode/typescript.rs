//! A tool's function as a TypeScript declaration, from its `inputSchema` and
//! `outputSchema`, for `search_tools` results in code mode:
//! `tools.get_weather(args: { city: string; units?: "c" | "f" }): Promise<{ temp: number }>`
//! (`tools["a-b"](…)` for a name that is not an identifier). Objects, arrays, tuples,
//! enums, `const`, unions (`anyOf`, `oneOf`, a list of types), `allOf`, and local `$ref`s
//! are rendered; what cannot be (a remote or circular `$ref`, a schema past
//! [`MAX_DEPTH`]) is `unknown`. A declaration is at most [`MAX_CHARS`] characters: a
//! larger one is rendered again shallower until it fits.

use serde_json::{Map, Value};

/// Deepest nesting rendered.
pub const MAX_DEPTH: usize = 6;
/// Longest declaration.
pub const MAX_CHARS: usize = 2048;
/// Most members, enum values or union arms rendered of one schema.
const MAX_ITEMS: usize = 40;
/// Most schemas rendered for one declaration (past it, `unknown`): the work is bounded
/// however the schema nests and refers.
const MAX_NODES: usize = 1000;
/// Longest string literal or member name rendered as itself.
const MAX_LITERAL: usize = 80;

/// The declaration of `name`'s function.
pub fn declaration(name: &str, input_schema: &Value, output_schema: Option<&Value>) -> String {
    let callee = match is_identifier(name) {
        true => format!("tools.{name}"),
        false => format!("tools[{}]", Value::String(name.to_string())),
    };
    for depth in (0..=MAX_DEPTH).rev() {
        let args = Renderer::new(input_schema, depth).render(input_schema, 0);
        let out = match output_schema {
            Some(o) => Renderer::new(o, depth).render(o, 0),
            None => "unknown".to_string(),
        };
        let d = format!("{callee}(args: {args}): Promise<{out}>");
        if d.chars().count() <= MAX_CHARS {
            return d;
        }
    }
    format!("{callee}(args: object): Promise<unknown>")
}

/// The declaration of a tool as a listing gives it (`name`, `inputSchema`,
/// `outputSchema`), for a `search_tools` result in code mode; `None` without a name.
pub fn declaration_of(tool: &Value) -> Option<String> {
    let name = tool.get("name")?.as_str()?;
    let input = tool.get("inputSchema").unwrap_or(&Value::Null);
    Some(declaration(name, input, tool.get("outputSchema")))
}

/// Whether `s` is a JavaScript identifier (ASCII) and no reserved word.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
    first_ok
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !RESERVED_WORDS.contains(&s)
}

const RESERVED_WORDS: &[&str] = &[
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "new",
    "null",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
    "let",
    "static",
    "implements",
    "interface",
    "package",
    "private",
    "protected",
    "public",
    "await",
];

struct Renderer<'a> {
    root: &'a Value,
    max_depth: usize,
    /// `$ref`s being rendered (a circle renders as `unknown`).
    refs: Vec<&'a str>,
    /// Schemas rendered so far.
    nodes: usize,
}

impl<'a> Renderer<'a> {
    fn new(root: &'a Value, max_depth: usize) -> Renderer<'a> {
        Renderer {
            root,
            max_depth,
            refs: Vec::new(),
            nodes: 0,
        }
    }

    fn render(&mut self, schema: &'a Value, depth: usize) -> String {
        let Value::Object(s) = schema else {
            // `true` or a schema that is not one: anything.
            return "unknown".into();
        };
        self.nodes += 1;
        if depth > self.max_depth || self.nodes > MAX_NODES {
            return "unknown".into();
        }
        if let Some(Value::String(r)) = s.get("$ref") {
            return self.reference(r, depth);
        }
        if let Some(c) = s.get("const") {
            return literal(c);
        }
        if let Some(Value::Array(e)) = s.get("enum") {
            return union(e.iter().take(MAX_ITEMS).map(literal).collect(), e.len());
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(arms)) = s.get(key) {
                let rendered = arms
                    .iter()
                    .take(MAX_ITEMS)
                    .map(|a| self.render(a, depth + 1))
                    .collect();
                return union(rendered, arms.len());
            }
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            let parts: Vec<String> = all
                .iter()
                .take(MAX_ITEMS)
                .map(|a| self.render(a, depth + 1))
                .collect();
            return match parts.len() {
                0 => "unknown".into(),
                _ => parts.join(" & "),
            };
        }
        match s.get("type") {
            Some(Value::String(t)) => self.typed(t, s, depth),
            Some(Value::Array(ts)) => {
                let rendered = ts
                    .iter()
                    .filter_map(Value::as_str)
                    .take(MAX_ITEMS)
                    .map(|t| self.typed(t, s, depth))
                    .collect();
                union(rendered, ts.len())
            }
            _ if s.contains_key("properties") => self.object(s, depth),
            _ => "unknown".into(),
        }
    }

    fn typed(&mut self, t: &str, s: &'a Map<String, Value>, depth: usize) -> String {
        match t {
            "string" => "string".into(),
            "number" | "integer" => "number".into(),
            "boolean" => "boolean".into(),
            "null" => "null".into(),
            "array" => self.array(s, depth),
            "object" => self.object(s, depth),
            _ => "unknown".into(),
        }
    }

    fn array(&mut self, s: &'a Map<String, Value>, depth: usize) -> String {
        if let Some(Value::Array(items)) = s.get("prefixItems") {
            let parts: Vec<String> = items
                .iter()
                .take(MAX_ITEMS)
                .map(|i| self.render(i, depth + 1))
                .collect();
            return format!("[{}]", parts.join(", "));
        }
        match s.get("items") {
            Some(i @ Value::Object(_)) => {
                let inner = self.render(i, depth + 1);
                match inner.chars().all(|c| c.is_ascii_alphanumeric()) {
                    true => format!("{inner}[]"),
                    false => format!("Array<{inner}>"),
                }
            }
            _ => "unknown[]".into(),
        }
    }

    fn object(&mut self, s: &'a Map<String, Value>, depth: usize) -> String {
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut members = Vec::new();
        let properties = s.get("properties").and_then(Value::as_object);
        for (k, v) in properties.into_iter().flatten().take(MAX_ITEMS) {
            let key = match is_identifier(k) {
                true => k.clone(),
                false => Value::String(k.clone()).to_string(),
            };
            let mut optional = if required.contains(&k.as_str()) {
                ""
            } else {
                "?"
            };
            let key = match k.len() > MAX_LITERAL {
                true => {
                    optional = "";
                    "[key: string]".to_string()
                }
                false => key,
            };
            members.push(format!("{key}{optional}: {}", self.render(v, depth + 1)));
        }
        if properties.is_some_and(|p| p.len() > MAX_ITEMS) {
            members.push("/* more */ [key: string]: unknown".into());
        }
        match s.get("additionalProperties") {
            Some(a @ Value::Object(_)) => {
                members.push(format!("[key: string]: {}", self.render(a, depth + 1)))
            }
            Some(Value::Bool(false)) => {}
            _ if properties.is_none() => members.push("[key: string]: unknown".into()),
            _ => {}
        }
        match members.is_empty() {
            true => "{}".into(),
            false => format!("{{ {} }}", members.join("; ")),
        }
    }

    /// A local `$ref` (`#/$defs/X`, `#/definitions/X`, any JSON pointer into the root).
    fn reference(&mut self, r: &'a str, depth: usize) -> String {
        let Some(pointer) = r.strip_prefix('#') else {
            return "unknown".into();
        };
        if self.refs.contains(&r) {
            return "unknown".into();
        }
        let Some(target) = self.root.pointer(pointer) else {
            return "unknown".into();
        };
        self.refs.push(r);
        let out = self.render(target, depth + 1);
        self.refs.pop();
        out
    }
}

/// A JSON value as a TypeScript literal type (objects and arrays: `unknown`; a long
/// string: `string`).
fn literal(v: &Value) -> String {
    match v {
        Value::String(s) if s.len() > MAX_LITERAL => "string".into(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => v.to_string(),
        _ => "unknown".into(),
    }
}

/// A union of rendered arms, `…` noting arms left out.
fn union(mut parts: Vec<String>, total: usize) -> String {
    parts.dedup();
    if parts.is_empty() {
        return "never".into();
    }
    if total > parts.len() && total > MAX_ITEMS {
        parts.push("unknown".into());
    }
    let joined = parts
        .iter()
        .map(|p| match p.contains(" & ") {
            true => format!("({p})"),
            false => p.clone(),
        })
        .collect::<Vec<_>>();
    match joined.len() {
        1 => joined.into_iter().next().unwrap_or_default(),
        _ => format!("({})", joined.join(" | ")),
    }
}
