//! A backend's lists: every page of each list its capabilities promise (tools, prompts,
//! resources and their templates, skills), read when its session opens and again on its
//! `list_changed`, then swapped in whole.

use std::sync::Arc;

use serde_json::Value;

use super::{Backend, Lists};
use crate::backend::http::UpstreamError;
use crate::jsonrpc::methods::Method;

impl Backend {
    /// Every page of a list method (`tools/list` → `tools`, …).
    async fn list_all(&self, method: &str, field: &str) -> Result<Vec<Value>, UpstreamError> {
        crate::backend::http::every_page(method, field, |id, params| async move {
            self.transport.call(&id, method, params).await
        })
        .await
    }

    /// Re-fetches every list the backend's capabilities promise.
    pub(super) async fn refresh_lists(&self, caps: Value) -> Result<(), UpstreamError> {
        let listed = self.read_lists(caps).await;
        self.variants.lists_changed();
        self.transport.settle().await;
        listed
    }

    async fn read_lists(&self, caps: Value) -> Result<(), UpstreamError> {
        let has = |k: &str| caps.get(k).is_some_and(|v| !v.is_null());
        let tools = if has("tools") {
            self.list_all(Method::ToolsList.as_str(), "tools").await?
        } else {
            vec![]
        };
        let prompts = if has("prompts") {
            self.list_all(Method::PromptsList.as_str(), "prompts")
                .await?
        } else {
            vec![]
        };
        let (resources, templates) = if has("resources") {
            (
                self.list_all(Method::ResourcesList.as_str(), "resources")
                    .await?,
                // Templates are optional even for servers with resources.
                self.list_all(Method::ResourceTemplatesList.as_str(), "resourceTemplates")
                    .await
                    .unwrap_or_default(),
            )
        } else {
            (vec![], vec![])
        };
        let skills = self.list_skills(&caps).await;
        *self.lists.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Lists {
            tools,
            prompts,
            resources,
            templates,
            capabilities: caps,
            skills,
        });
        Ok(())
    }
}
