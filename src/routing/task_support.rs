//! Whether a tool runs as a task: its `execution.taskSupport` (MCP 2025-11-25).

use serde_json::Value;

/// A tool's `execution.taskSupport`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskSupport {
    /// Never a task (also when the tool says nothing, or something unknown).
    #[default]
    Forbidden,
    /// A task when the caller asks for one.
    Optional,
    /// Only as a task.
    Required,
}

impl TaskSupport {
    /// A tool's, from its listing entry.
    pub fn of(tool: &Value) -> TaskSupport {
        match tool["execution"]["taskSupport"].as_str() {
            Some("optional") => TaskSupport::Optional,
            Some("required") => TaskSupport::Required,
            _ => TaskSupport::Forbidden,
        }
    }

    /// Whether the tool can run as a task.
    pub fn allowed(self) -> bool {
        self != TaskSupport::Forbidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_known_values_make_a_tool_a_task() {
        let of = |v: Value| TaskSupport::of(&serde_json::json!({ "execution": v }));
        assert_eq!(
            of(serde_json::json!({"taskSupport": "optional"})),
            TaskSupport::Optional
        );
        assert_eq!(
            of(serde_json::json!({"taskSupport": "required"})),
            TaskSupport::Required
        );
        for other in [
            serde_json::json!({"taskSupport": "forbidden"}),
            serde_json::json!({"taskSupport": "Required"}),
            serde_json::json!({"taskSupport": 1}),
            serde_json::json!({}),
            Value::Null,
        ] {
            assert_eq!(of(other), TaskSupport::Forbidden);
        }
        assert!(TaskSupport::Optional.allowed() && !TaskSupport::Forbidden.allowed());
    }
}
