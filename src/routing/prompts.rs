//! A view's prompts: each member's, named `<server>__<name>` (bare under `tool_prefix:
//! never`); when two offer one name the first member's is kept and the clash reported.
//! A server that is down has its names remembered as absent.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::{Exposed, Problem, View, exposed_name};
use crate::backend::{Backend, Lists};

/// `b`'s prompts, as `view` exposes them (or remembers them, when `b` is not running).
pub(super) fn add(view: &mut View, b: &Arc<Backend>, lists: &Lists, prefix: bool, running: bool) {
    for prompt in &lists.prompts {
        let Some(original) = prompt["name"].as_str() else {
            continue;
        };
        let name = exposed_name(&b.name, original, prefix);
        if !running {
            view.absent.prompts.entry(name).or_insert(b.id);
            continue;
        }
        if let Some(first) = view.prompt_index.get(&name).map(|i| &view.prompts[*i]) {
            let problem = Problem::offered_twice("prompt", &name, first, &b.name);
            view.errors.push(problem);
            continue;
        }
        let mut entry = prompt.clone();
        entry["name"] = Value::String(name.clone());
        view.prompt_index.insert(name.clone(), view.prompts.len());
        let entry = Bytes::from(entry.to_string());
        view.prompts.push(Exposed::new(name, b, original, entry));
    }
}
