//! MCP's own methods (both eras) as a [`Method`], recognised once when a frame is parsed
//! ([`crate::jsonrpc::frame::Frame::kind`]): the questions a request's way asks of its
//! method match an enum instead of comparing strings. A method the gateway does not know
//! is no `Method`; the frame keeps its raw name, and it is forwarded as it is. The names
//! are written here and nowhere else: a message the gateway writes names its method with
//! [`Method::as_str`].

macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// One of MCP's methods (both eras), requests and notifications alike.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Method {
            $($(#[$doc])* $variant,)*
        }

        impl Method {
            /// `name` as one of MCP's methods, if it is one.
            pub fn parse(name: &str) -> Option<Method> {
                Some(match name {
                    $($name => Method::$variant,)*
                    _ => return None,
                })
            }

            /// The method's name on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }
        }
    };
}

methods! {
    ToolsCall = "tools/call",
    ToolsList = "tools/list",
    Initialize = "initialize",
    Initialized = "notifications/initialized",
    Ping = "ping",
    ResourcesRead = "resources/read",
    ResourcesList = "resources/list",
    ResourceTemplatesList = "resources/templates/list",
    ResourcesSubscribe = "resources/subscribe",
    ResourcesUnsubscribe = "resources/unsubscribe",
    /// The skills extension: a skill's directory.
    ResourcesDirectoryRead = "resources/directory/read",
    PromptsGet = "prompts/get",
    PromptsList = "prompts/list",
    CompletionComplete = "completion/complete",
    LoggingSetLevel = "logging/setLevel",
    /// The 2026-07-28 revision's handshake.
    ServerDiscover = "server/discover",
    /// The 2026-07-28 revision's notification stream.
    SubscriptionsListen = "subscriptions/listen",
    TasksGet = "tasks/get",
    TasksResult = "tasks/result",
    TasksList = "tasks/list",
    TasksCancel = "tasks/cancel",
    TasksUpdate = "tasks/update",
    SkillsList = "skills/list",
    SkillsGet = "skills/get",
    SamplingCreateMessage = "sampling/createMessage",
    ElicitationCreate = "elicitation/create",
    RootsList = "roots/list",
    Cancelled = "notifications/cancelled",
    Progress = "notifications/progress",
    Message = "notifications/message",
    RootsListChanged = "notifications/roots/list_changed",
    ToolsListChanged = "notifications/tools/list_changed",
    PromptsListChanged = "notifications/prompts/list_changed",
    ResourcesListChanged = "notifications/resources/list_changed",
    ResourcesUpdated = "notifications/resources/updated",
    TasksStatus = "notifications/tasks/status",
    ElicitationComplete = "notifications/elicitation/complete",
    SubscriptionsAcknowledged = "notifications/subscriptions/acknowledged",
}

impl Method {
    /// A call of a named item (`params.name` or `params.uri`): what is audited, recorded
    /// per item, and retried in rounds of the 2026-07-28 revision.
    pub fn calls_item(self) -> bool {
        matches!(
            self,
            Method::ToolsCall | Method::PromptsGet | Method::ResourcesRead
        )
    }

    /// A request a server sends its client (a question the client answers).
    pub fn asks_client(self) -> bool {
        matches!(
            self,
            Method::SamplingCreateMessage | Method::ElicitationCreate | Method::RootsList
        )
    }

    /// The session era's task methods.
    pub fn is_task(self) -> bool {
        matches!(
            self,
            Method::TasksGet | Method::TasksResult | Method::TasksCancel | Method::TasksList
        )
    }

    /// The 2026-07-28 revision's task methods (the tasks extension).
    pub fn is_task_ext(self) -> bool {
        matches!(
            self,
            Method::TasksGet | Method::TasksUpdate | Method::TasksCancel
        )
    }

    /// Requests the 2026-07-28 revision removed.
    pub fn removed_in_2026(self) -> bool {
        matches!(
            self,
            Method::Initialize
                | Method::Ping
                | Method::LoggingSetLevel
                | Method::ResourcesSubscribe
                | Method::ResourcesUnsubscribe
        )
    }

    /// A backend's notification that goes out to the client as a notice of its own.
    pub fn is_notice(self) -> bool {
        matches!(self, Method::TasksStatus | Method::ElicitationComplete)
    }

    /// A server's notice that one of its lists changed.
    pub fn is_list_changed(self) -> bool {
        matches!(
            self,
            Method::ToolsListChanged | Method::PromptsListChanged | Method::ResourcesListChanged
        )
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Method;

    #[test]
    fn every_name_parses_to_itself() {
        for m in [
            Method::ToolsCall,
            Method::SubscriptionsAcknowledged,
            Method::Ping,
        ] {
            assert_eq!(Method::parse(m.as_str()), Some(m));
        }
        assert_eq!(Method::parse("tools/cal"), None);
        assert_eq!(Method::ElicitationCreate.to_string(), "elicitation/create");
        assert!(Method::ToolsCall.calls_item() && !Method::ToolsList.calls_item());
        assert!(Method::TasksList.is_task() && !Method::TasksList.is_task_ext());
        assert!(Method::TasksUpdate.is_task_ext() && !Method::TasksUpdate.is_task());
        assert!(Method::RootsList.asks_client() && Method::Ping.removed_in_2026());
        assert!(Method::ToolsListChanged.is_list_changed() && !Method::Message.is_list_changed());
    }
}
