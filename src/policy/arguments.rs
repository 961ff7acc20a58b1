//! `validate_arguments`: a `tools/call`'s `arguments` checked against the tool's
//! `inputSchema` before the call is forwarded. A mismatch is `-32602` naming the JSON
//! pointer of the first place that does not match. A tool whose schema could not be
//! compiled ([`super::schema`]) is not checked.

use serde_json::{Value, json};

use super::{Call, Policy, Refusal};

/// The policy (one for every namespace that turns it on).
pub struct ValidateArguments;

impl Policy for ValidateArguments {
    fn name(&self) -> &str {
        "validate_arguments"
    }

    fn before(&self, call: &Call<'_>) -> Result<(), Refusal> {
        let Some(schema) = call.schema else {
            return Ok(());
        };
        let arguments = call
            .arguments
            .clone()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        schema.check(&arguments).map_err(|m| {
            let at = if m.pointer.is_empty() {
                "the arguments".to_string()
            } else {
                format!("argument {}", m.pointer)
            };
            Refusal {
                code: -32602,
                message: format!(
                    "invalid arguments for tool {:?}: {at} {} (see the tool's inputSchema)",
                    call.called.tool, m.message
                ),
                data: Some(json!({"pointer": m.pointer, "tool": call.called.tool})),
            }
        })
    }
}
