//! The namespace object: its servers, prefixing, access, and per-tool overrides.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::names::{is_valid_override_key, is_valid_tool_name};
use crate::model::{Namespace, ToolOverride};

use super::*;

/// A namespace being created or changed.
#[derive(Default)]
pub struct NamespaceDraft {
    pub name: String,
    pub description: Option<String>,
    pub servers: Vec<String>,
    pub prefix_tools: bool,
    pub auth_required: bool,
    pub tools: BTreeMap<String, ToolOverride>,
    pub tools_enabled_by_default: bool,
    pub validate_arguments: bool,
    pub tool_search: crate::model::ToolSearch,
    pub tool_changes: crate::model::ToolChanges,
    pub code_mode: crate::model::CodeMode,
    pub guardrails: Vec<crate::model::guardrail::Guardrail>,
}

impl From<&Namespace> for NamespaceDraft {
    fn from(n: &Namespace) -> Self {
        NamespaceDraft {
            name: n.name.clone(),
            description: n.description.clone(),
            servers: n.servers.clone(),
            prefix_tools: n.prefix_tools,
            auth_required: n.auth_required,
            tools: n.tools.clone(),
            tools_enabled_by_default: n.tools_enabled_by_default,
            validate_arguments: n.validate_arguments,
            tool_search: n.tool_search,
            tool_changes: n.tool_changes,
            code_mode: n.code_mode,
            guardrails: n.guardrails.clone(),
        }
    }
}

const NAMESPACE_FIELDS: &[&str] = &[
    "name",
    "description",
    "servers",
    "tool_prefix",
    "auth",
    "tools",
    "tools_default",
    "validate_arguments",
    "tool_search",
    "tool_changes",
    "code_mode",
    "guardrails",
];
/// What a namespace object shows that a PUT of it may carry back unchanged (read-only).
const NAMESPACE_READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "problems",
    "tool_search_effective",
    "tool_search_why",
    "tool_search_embedded",
];

impl NamespaceDraft {
    pub fn apply(&mut self, obj: &Map<String, Value>, creating: bool) -> Result<(), Invalid> {
        reject_unknown(obj, NAMESPACE_FIELDS, NAMESPACE_READ_ONLY, !creating)?;
        if creating {
            self.prefix_tools = true;
            self.auth_required = true;
            self.tools_enabled_by_default = true;
        }
        match name_field(obj, creating)? {
            Some(n) if creating => self.name = n,
            Some(n) if n == self.name => {}
            Some(_) => {
                return Err(Invalid::field(
                    "name",
                    "cannot be changed; create a new namespace",
                ));
            }
            None => {}
        }
        self.apply_members(obj)?;
        self.apply_exposure(obj)?;
        match field(obj, "guardrails") {
            Field::Absent => {}
            Field::Null => self.guardrails.clear(),
            Field::Value(v) => {
                self.guardrails = crate::model::guardrail::parse_list(v, &self.guardrails)?;
            }
        }
        Ok(())
    }

    /// `description` and `servers`.
    fn apply_members(&mut self, obj: &Map<String, Value>) -> Result<(), Invalid> {
        if let Some(d) = string_field(obj, "description")? {
            if d.as_ref().is_some_and(|d| d.len() > MAX_DESCRIPTION) {
                return Err(Invalid::field(
                    "description",
                    format!("at most {MAX_DESCRIPTION} characters"),
                ));
            }
            self.description = d;
        }
        match field(obj, "servers") {
            Field::Absent => {}
            Field::Null => self.servers.clear(),
            Field::Value(Value::Array(items)) => {
                let mut servers: Vec<String> = Vec::with_capacity(items.len());
                for i in items {
                    let Value::String(s) = i else {
                        return Err(Invalid::field(
                            "servers",
                            "must be an array of server names",
                        ));
                    };
                    if servers.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                        return Err(Invalid::field("servers", format!("{s:?} is listed twice")));
                    }
                    servers.push(s.clone());
                }
                self.servers = servers;
            }
            Field::Value(_) => {
                return Err(Invalid::field(
                    "servers",
                    "must be an array of server names",
                ));
            }
        }
        Ok(())
    }

    /// How the namespace exposes its servers: `tool_prefix`, `auth`, per-tool `tools`.
    fn apply_exposure(&mut self, obj: &Map<String, Value>) -> Result<(), Invalid> {
        match string_field(obj, "tool_prefix")?.flatten().as_deref() {
            None => {}
            Some("always") => self.prefix_tools = true,
            Some("never") => self.prefix_tools = false,
            Some(_) => {
                return Err(Invalid::field("tool_prefix", "must be always or never"));
            }
        }
        match field(obj, "validate_arguments") {
            Field::Absent => {}
            Field::Null => self.validate_arguments = false,
            Field::Value(Value::Bool(b)) => self.validate_arguments = *b,
            Field::Value(_) => {
                return Err(Invalid::field(
                    "validate_arguments",
                    "must be true or false",
                ));
            }
        }
        match field(obj, "tool_search") {
            Field::Absent => {}
            Field::Null => self.tool_search = crate::model::ToolSearch::default(),
            Field::Value(v) => {
                self.tool_search = v
                    .as_str()
                    .and_then(crate::model::ToolSearch::parse)
                    .ok_or_else(|| Invalid::field("tool_search", "must be off, on or auto"))?;
            }
        }
        self.tool_changes = tool_changes(obj, self.tool_changes)?;
        match field(obj, "code_mode") {
            Field::Absent => {}
            Field::Null => self.code_mode = crate::model::CodeMode::default(),
            Field::Value(v) => {
                self.code_mode = v
                    .as_str()
                    .and_then(crate::model::CodeMode::parse)
                    .ok_or_else(|| Invalid::field("code_mode", "must be off or on"))?;
            }
        }
        match field(obj, "tools_default") {
            Field::Absent => {}
            Field::Null => self.tools_enabled_by_default = true,
            Field::Value(Value::String(s)) if s == "enabled" || s == "disabled" => {
                self.tools_enabled_by_default = s == "enabled";
            }
            Field::Value(_) => {
                return Err(Invalid::field(
                    "tools_default",
                    "must be enabled (every tool but those `tools` switches off) or disabled \
                     (only the tools `tools` names)",
                ));
            }
        }
        match string_field(obj, "auth")?.flatten().as_deref() {
            None => {}
            Some("required") => self.auth_required = true,
            Some("none") => self.auth_required = false,
            Some(_) => return Err(Invalid::field("auth", "must be required or none")),
        }
        match field(obj, "tools") {
            Field::Absent => {}
            Field::Null => self.tools.clear(),
            Field::Value(Value::Object(m)) => {
                let mut tools = BTreeMap::new();
                for (tool, settings) in m {
                    if !is_valid_override_key(tool) {
                        return Err(Invalid::field(
                            "tools",
                            format!(
                                "{tool:?} is not <server>__<tool> or a tool name ([A-Za-z0-9_./-]{{1,164}})"
                            ),
                        ));
                    }
                    tools.insert(tool.clone(), tool_override(tool, settings)?);
                }
                self.tools = tools;
            }
            Field::Value(_) => return Err(Invalid::field("tools", "must be an object")),
        }
        Ok(())
    }
}

fn tool_override(tool: &str, v: &Value) -> Result<ToolOverride, Invalid> {
    let Value::Object(m) = v else {
        return Err(Invalid::field(
            "tools",
            format!("settings of {tool} must be an object"),
        ));
    };
    let mut o = ToolOverride {
        enabled: true,
        name: None,
        description: None,
        rate: None,
    };
    for (k, v) in m {
        match (k.as_str(), v) {
            ("enabled", Value::Bool(b)) => o.enabled = *b,
            ("name", Value::String(n)) if is_valid_tool_name(n) => o.name = Some(n.clone()),
            ("name", Value::Null) | ("description", Value::Null) | ("rate", Value::Null) => {}
            ("rate", Value::String(r)) => {
                o.rate = Some(
                    crate::model::limits::Rate::parse(r)
                        .map_err(|e| Invalid::field("tools", format!("{tool}.rate: {e}")))?,
                )
            }
            ("description", Value::String(d)) if d.len() <= MAX_VALUE => {
                o.description = Some(d.clone())
            }
            ("enabled" | "name" | "description" | "rate", _) => {
                return Err(Invalid::field(
                    "tools",
                    format!("{tool}.{k} has the wrong type or an invalid value"),
                ));
            }
            _ => {
                return Err(Invalid::field(
                    "tools",
                    format!("{tool}.{k} is unknown (expected enabled, name, description, rate)"),
                ));
            }
        }
    }
    Ok(o)
}
