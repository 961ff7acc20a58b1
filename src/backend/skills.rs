//! A backend's skills (SEP-2640, `io.modelcontextprotocol/skills`): its `skills/list`,
//! read with the other lists when it declares the extension, within bounds a hostile
//! member cannot stretch (pages, a repeated cursor, entries, files per manifest); and
//! the control-path calls the gateway makes for a client (`skills/get`,
//! `resources/directory/read`), whose answers it rewrites. Never a skill file: the
//! gateway reads none ahead of a client (the extension's no-prefetch rule).

use serde_json::{Value, json};

use super::Backend;
use crate::backend::http::UpstreamError;
use crate::jsonrpc::methods::Method;

/// The extension, as capabilities name it.
pub const SKILLS_EXTENSION: &str = "io.modelcontextprotocol/skills";
/// Pages of a member's `skills/list` the gateway follows.
pub const MAX_PAGES: usize = 100;
/// Skills kept per member; the rest are left out (and reported).
pub const MAX_SKILLS: usize = 1000;
/// Files a skill's manifest may list (the extension's interoperability limit); a skill
/// over it is left out (and reported).
pub const MAX_FILES: usize = 512;

/// What a member's skills listing gave: the entries kept and, when some were not, why.
#[derive(Debug, Default, Clone)]
pub struct Listed {
    pub skills: Vec<Value>,
    pub problem: Option<String>,
}

/// Whether capabilities `caps` declare the extension.
pub fn offers_skills(caps: &Value) -> bool {
    caps["extensions"][SKILLS_EXTENSION].is_object()
}

impl Backend {
    /// Every page of the backend's `skills/list`, bounded: a cursor seen before or more
    /// than [`MAX_PAGES`] pages end the walk, and at most [`MAX_SKILLS`] entries are
    /// kept. A failure leaves the member without skills (its tools are still served).
    pub(super) async fn list_skills(&self, caps: &Value) -> Listed {
        if !offers_skills(caps) {
            return Listed::default();
        }
        let mut out = Listed::default();
        let mut cursor: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        for page in 0..MAX_PAGES {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let id = format!("metamcp-skills-{page}");
            let result = match self
                .transport
                .call(&id, Method::SkillsList.as_str(), params)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    out.problem = Some(format!("skills/list failed: {e}"));
                    return out;
                }
            };
            for entry in result["skills"].as_array().into_iter().flatten() {
                if out.skills.len() == MAX_SKILLS {
                    out.problem = Some(format!(
                        "skills/list gave more than {MAX_SKILLS} skills; the first {MAX_SKILLS} are served"
                    ));
                    return out;
                }
                out.skills.push(entry.clone());
            }
            match result["nextCursor"].as_str() {
                Some(c) if !c.is_empty() => {
                    if !seen.insert(c.to_string()) {
                        out.problem = Some(format!(
                            "skills/list repeated the cursor {c:?}; the {} skills before it are served",
                            out.skills.len()
                        ));
                        return out;
                    }
                    cursor = Some(c.to_string());
                }
                _ => return out,
            }
        }
        out.problem = Some(format!(
            "skills/list did not end after {MAX_PAGES} pages; the {} skills read are served",
            out.skills.len()
        ));
        out
    }

    /// A control-path request to the backend on a client's behalf (`skills/get`,
    /// `resources/directory/read`) and its `result`, for the gateway to rewrite.
    pub async fn skills_call(&self, method: &str, params: Value) -> Result<Value, UpstreamError> {
        let id = format!("metamcp-{}", uuid::Uuid::new_v4().simple());
        self.transport.call(&id, method, params).await
    }
}
