//! MCP's own method names (both eras), recognised once when a frame is parsed: the many
//! questions a request's way asks of its method then compare a `'static` string instead
//! of checking the body's bytes as UTF-8 again.

/// `method` as the `'static` name of one of MCP's methods (both eras), if it is one.
pub fn known_method(method: &str) -> Option<&'static str> {
    Some(match method {
        "tools/call" => "tools/call",
        "tools/list" => "tools/list",
        "initialize" => "initialize",
        "notifications/initialized" => "notifications/initialized",
        "ping" => "ping",
        "resources/read" => "resources/read",
        "resources/list" => "resources/list",
        "resources/templates/list" => "resources/templates/list",
        "resources/subscribe" => "resources/subscribe",
        "resources/unsubscribe" => "resources/unsubscribe",
        "prompts/get" => "prompts/get",
        "prompts/list" => "prompts/list",
        "completion/complete" => "completion/complete",
        "logging/setLevel" => "logging/setLevel",
        "server/discover" => "server/discover",
        "subscriptions/listen" => "subscriptions/listen",
        "tasks/get" => "tasks/get",
        "tasks/result" => "tasks/result",
        "tasks/list" => "tasks/list",
        "tasks/cancel" => "tasks/cancel",
        "tasks/update" => "tasks/update",
        "sampling/createMessage" => "sampling/createMessage",
        "elicitation/create" => "elicitation/create",
        "roots/list" => "roots/list",
        "notifications/cancelled" => "notifications/cancelled",
        "notifications/progress" => "notifications/progress",
        "notifications/message" => "notifications/message",
        "notifications/roots/list_changed" => "notifications/roots/list_changed",
        "notifications/tools/list_changed" => "notifications/tools/list_changed",
        "notifications/prompts/list_changed" => "notifications/prompts/list_changed",
        "notifications/resources/list_changed" => "notifications/resources/list_changed",
        "notifications/resources/updated" => "notifications/resources/updated",
        "notifications/tasks/status" => "notifications/tasks/status",
        "notifications/elicitation/complete" => "notifications/elicitation/complete",
        _ => return None,
    })
}
