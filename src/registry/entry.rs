//! One registry entry (`server.json`, as the MCP Registry serves it) read into types:
//! its name, version and status, its remotes and its packages with their arguments,
//! environment variables and headers. Field names are the schema's camelCase
//! (`registryType`, `environmentVariables`, `isRequired`); the snake_case of the
//! 2025-07-09 schema, which older private registries still serve, is read as well.
//!
//! Reading never panics and never trusts: a field of the wrong type, a string past its
//! bound, or more items than an entry may hold make the entry [`Garbled`], named by its
//! JSON path. Whether what it says is safe to run is [`super::plan`]'s decision.

use serde_json::{Map, Value, json};

/// Longest string read from an entry (a description, a URL, a value).
const MAX_TEXT: usize = 4096;
/// Most remotes, packages, arguments, variables or headers one list may hold.
const MAX_ITEMS: usize = 64;

/// Why an entry cannot be read: its JSON path and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Garbled {
    pub path: String,
    pub message: String,
}

fn garbled(path: &str, message: impl Into<String>) -> Garbled {
    Garbled {
        path: path.to_string(),
        message: message.into(),
    }
}

/// The official registry's status of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Deprecated,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Deprecated => "deprecated",
            Status::Deleted => "deleted",
        }
    }
}

/// A value an admin gives at install, or the entry fixes or defaults: an environment
/// variable, a header, an argument or a variable inside one's value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Input {
    /// What the admin names it by: the variable's or header's name, a named argument's
    /// flag, a positional argument's `valueHint`, a template variable's name.
    pub name: String,
    pub value: Option<String>,
    pub default: Option<String>,
    pub required: bool,
    pub secret: bool,
    pub choices: Vec<String>,
    /// `{name}` placeholders of `value`, each an input of its own.
    pub variables: Vec<Input>,
}

/// A runtime or package argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Argument {
    /// `named` (`--flag value`) or positional.
    pub named: bool,
    pub input: Input,
}

/// A remote the entry is served at.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// `streamable-http` or `sse`.
    pub kind: String,
    pub url: String,
    pub headers: Vec<Input>,
    /// `{name}` placeholders of the URL.
    pub variables: Vec<Input>,
    /// What to do once it is installed (`postInstallInstructions`), shown to the admin.
    pub post_install: Option<String>,
}

/// A package the entry can be run from.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// `npm`, `pypi`, `oci`, `nuget`, `mcpb`, …
    pub registry_type: String,
    pub identifier: String,
    pub version: Option<String>,
    /// The package's own transport: `stdio`, `streamable-http` or `sse`.
    pub transport: String,
    pub runtime_arguments: Vec<Argument>,
    pub package_arguments: Vec<Argument>,
    pub env: Vec<Input>,
    /// What to do once it is installed (`postInstallInstructions`), shown to the admin.
    pub post_install: Option<String>,
}

/// One entry of a registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub description: String,
    pub version: String,
    pub status: Status,
    pub remotes: Vec<Remote>,
    pub packages: Vec<Package>,
    /// The entry's own `postInstallInstructions` (a package's or remote's come first).
    pub post_install: Option<String>,
    /// The entry's `remotes` and `packages` as the registry gave them, for display.
    raw_remotes: Value,
    raw_packages: Value,
}

impl Entry {
    /// The search result's shape: `{"name", "description", "version", "status",
    /// "remotes", "packages"}`.
    pub fn summary(&self) -> Value {
        json!({
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "status": self.status.as_str(),
            "remotes": self.raw_remotes,
            "packages": self.raw_packages,
        })
    }
}

/// A member by its camelCase name, or its snake_case one.
fn member<'a>(obj: &'a Map<String, Value>, camel: &str, snake: &str) -> Option<&'a Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

fn text(
    obj: &Map<String, Value>,
    camel: &str,
    snake: &str,
    path: &str,
) -> Result<Option<String>, Garbled> {
    match member(obj, camel, snake) {
        None => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_TEXT => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(garbled(
            &format!("{path}.{camel}"),
            format!("longer than {MAX_TEXT} bytes"),
        )),
        // A number or a boolean default is read as its text (`"format": "number"`).
        Some(v @ (Value::Number(_) | Value::Bool(_))) if camel == "default" || camel == "value" => {
            Ok(Some(v.to_string()))
        }
        Some(_) => Err(garbled(&format!("{path}.{camel}"), "not a string")),
    }
}

/// `postInstallInstructions`: text an admin reads in a terminal, so without control
/// characters (an escape sequence could rewrite what the terminal shows) but its lines.
fn instructions(o: &Map<String, Value>, path: &str) -> Result<Option<String>, Garbled> {
    Ok(text(
        o,
        "postInstallInstructions",
        "post_install_instructions",
        path,
    )?
    .map(|t| {
        t.chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .collect()
    }))
}

fn flag(obj: &Map<String, Value>, camel: &str, snake: &str, path: &str) -> Result<bool, Garbled> {
    match member(obj, camel, snake) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(garbled(&format!("{path}.{camel}"), "not a boolean")),
    }
}

fn list<'a>(
    obj: &'a Map<String, Value>,
    camel: &str,
    snake: &str,
    path: &str,
) -> Result<&'a [Value], Garbled> {
    match member(obj, camel, snake) {
        None => Ok(&[]),
        Some(Value::Array(a)) if a.len() <= MAX_ITEMS => Ok(a),
        Some(Value::Array(_)) => Err(garbled(
            &format!("{path}.{camel}"),
            format!("more than {MAX_ITEMS} items"),
        )),
        Some(_) => Err(garbled(&format!("{path}.{camel}"), "not a list")),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Garbled> {
    v.as_object().ok_or_else(|| garbled(path, "not an object"))
}

/// An input: `name` is `name_of` read from the object (or given, for a variable).
fn input(v: &Value, path: &str, name: Option<String>) -> Result<Input, Garbled> {
    let o = object(v, path)?;
    let name = match name {
        Some(n) => n,
        None => text(o, "name", "name", path)?.unwrap_or_default(),
    };
    let choices = list(o, "choices", "choices", path)?
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.as_str()
                .filter(|s| s.len() <= MAX_TEXT)
                .map(str::to_string)
                .ok_or_else(|| garbled(&format!("{path}.choices[{i}]"), "not a string"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let variables = match member(o, "variables", "variables") {
        None => Vec::new(),
        Some(Value::Object(vars)) if vars.len() <= MAX_ITEMS => vars
            .iter()
            .map(|(k, v)| input(v, &format!("{path}.variables.{k}"), Some(k.clone())))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(garbled(
                &format!("{path}.variables"),
                "not an object of at most 64 variables",
            ));
        }
    };
    Ok(Input {
        name,
        value: text(o, "value", "value", path)?,
        default: text(o, "default", "default", path)?,
        required: flag(o, "isRequired", "is_required", path)?,
        secret: flag(o, "isSecret", "is_secret", path)?,
        choices,
        variables,
    })
}

fn argument(v: &Value, path: &str) -> Result<Argument, Garbled> {
    let o = object(v, path)?;
    let named = match text(o, "type", "type", path)?.as_deref() {
        Some("named") => true,
        Some("positional") => false,
        other => {
            return Err(garbled(
                &format!("{path}.type"),
                format!("{other:?} is neither named nor positional"),
            ));
        }
    };
    let name = if named {
        text(o, "name", "name", path)?
            .ok_or_else(|| garbled(&format!("{path}.name"), "a named argument without a name"))?
    } else {
        text(o, "valueHint", "value_hint", path)?.unwrap_or_default()
    };
    Ok(Argument {
        named,
        input: input(v, path, Some(name))?,
    })
}

fn arguments(
    o: &Map<String, Value>,
    camel: &str,
    snake: &str,
    path: &str,
) -> Result<Vec<Argument>, Garbled> {
    list(o, camel, snake, path)?
        .iter()
        .enumerate()
        .map(|(i, a)| argument(a, &format!("{path}.{camel}[{i}]")))
        .collect()
}

fn package(v: &Value, path: &str) -> Result<Package, Garbled> {
    let o = object(v, path)?;
    let need = |camel: &str, snake: &str| -> Result<String, Garbled> {
        text(o, camel, snake, path)?.ok_or_else(|| garbled(&format!("{path}.{camel}"), "missing"))
    };
    let transport = match member(o, "transport", "transport") {
        None => "stdio".to_string(),
        Some(t) => text(
            object(t, &format!("{path}.transport"))?,
            "type",
            "type",
            &format!("{path}.transport"),
        )?
        .unwrap_or_else(|| "stdio".to_string()),
    };
    let env = list(o, "environmentVariables", "environment_variables", path)?
        .iter()
        .enumerate()
        .map(|(i, e)| input(e, &format!("{path}.environmentVariables[{i}]"), None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Package {
        registry_type: need("registryType", "registry_type")?,
        identifier: need("identifier", "identifier")?,
        version: text(o, "version", "version", path)?,
        transport,
        runtime_arguments: arguments(o, "runtimeArguments", "runtime_arguments", path)?,
        package_arguments: arguments(o, "packageArguments", "package_arguments", path)?,
        env,
        post_install: instructions(o, path)?,
    })
}

fn remote(v: &Value, path: &str) -> Result<Remote, Garbled> {
    let o = object(v, path)?;
    let headers = list(o, "headers", "headers", path)?
        .iter()
        .enumerate()
        .map(|(i, h)| input(h, &format!("{path}.headers[{i}]"), None))
        .collect::<Result<Vec<_>, _>>()?;
    // The URL's `{name}` placeholders are described the way an argument's are.
    let variables = input(v, path, Some(String::new()))?.variables;
    Ok(Remote {
        kind: text(o, "type", "type", path)?
            .ok_or_else(|| garbled(&format!("{path}.type"), "missing"))?,
        url: text(o, "url", "url", path)?
            .ok_or_else(|| garbled(&format!("{path}.url"), "missing"))?,
        headers,
        variables,
        post_install: instructions(o, path)?,
    })
}

/// Reads one item of a registry's answer: `{"server": {…}, "_meta": {…}}` (the v0.1
/// API and today's v0) or the `server.json` itself with `_meta` inside (the first v0).
pub fn read(item: &Value) -> Result<Entry, Garbled> {
    let (server, meta) = match item.get("server") {
        Some(s) => (s, item.get("_meta")),
        None => (item, item.get("_meta")),
    };
    let o = object(server, "server")?;
    let path = "server";
    let name = text(o, "name", "name", path)?.ok_or_else(|| garbled("server.name", "missing"))?;
    if name.is_empty() || name.len() > 200 {
        return Err(garbled("server.name", "empty or longer than 200 bytes"));
    }
    let version = text(o, "version", "version", path)?
        .or_else(|| {
            // The first schema kept it under version_detail.
            o.get("version_detail")?
                .get("version")?
                .as_str()
                .map(str::to_string)
        })
        .ok_or_else(|| garbled("server.version", "missing"))?;
    let official = meta.and_then(|m| m.get("io.modelcontextprotocol.registry/official"));
    let status = official
        .and_then(|m| m.get("status"))
        .or_else(|| o.get("status"))
        .map(|s| s.as_str().unwrap_or("?"))
        .unwrap_or("active");
    let status = match status {
        "active" => Status::Active,
        "deprecated" => Status::Deprecated,
        "deleted" => Status::Deleted,
        other => {
            return Err(garbled(
                "status",
                format!("{other:?} is not active, deprecated or deleted"),
            ));
        }
    };
    let remotes = list(o, "remotes", "remotes", path)?
        .iter()
        .enumerate()
        .map(|(i, r)| remote(r, &format!("server.remotes[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let packages = list(o, "packages", "packages", path)?
        .iter()
        .enumerate()
        .map(|(i, p)| package(p, &format!("server.packages[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Entry {
        name,
        description: text(o, "description", "description", path)?.unwrap_or_default(),
        version,
        status,
        remotes,
        packages,
        post_install: instructions(o, path)?,
        raw_remotes: member(o, "remotes", "remotes")
            .cloned()
            .unwrap_or(json!([])),
        raw_packages: member(o, "packages", "packages")
            .cloned()
            .unwrap_or(json!([])),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemas_read_alike() {
        let camel = json!({"server": {"name": "io.github.x/y", "version": "1.0.0",
            "packages": [{"registryType": "npm", "identifier": "y", "version": "1.0.0",
                "environmentVariables": [{"name": "K", "isRequired": true, "isSecret": true}]}]},
            "_meta": {"io.modelcontextprotocol.registry/official": {"status": "deleted"}}});
        let snake = json!({"name": "io.github.x/y", "version": "1.0.0", "status": "deleted",
            "packages": [{"registry_type": "npm", "identifier": "y", "version": "1.0.0",
                "environment_variables": [{"name": "K", "is_required": true, "is_secret": true}]}]});
        let (a, b) = (read(&camel).unwrap(), read(&snake).unwrap());
        assert_eq!(a.packages, b.packages);
        assert_eq!((a.status, b.status), (Status::Deleted, Status::Deleted));
        assert!(a.packages[0].env[0].required && a.packages[0].env[0].secret);
    }

    #[test]
    fn a_garbled_entry_is_named_by_its_path() {
        let e = read(&json!({"name": "a/b", "version": "1", "packages": [{"registryType": 7}]}))
            .unwrap_err();
        assert_eq!(e.path, "server.packages[0].registryType");
        let e = read(&json!({"name": "a/b", "version": "1", "status": "weird"})).unwrap_err();
        assert!(e.message.contains("weird"), "{e}");
        assert!(read(&json!([1, 2])).is_err());
        assert!(read(&json!({"name": "a/b"})).is_err());
    }
}
