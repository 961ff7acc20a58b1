//! A view's prompts: each member's, named `<server>__<name>` (bare under `tool_prefix:
//! never`); when two offer one name the first member's is kept and the clash reported.
//! A server that is down has its names remembered as absent.

use std::sync::Arc;

use serde_json::Value;

use super::entries::{Kind, Reuse};
use super::{Exposed, Problem, View, exposed_name};
use crate::backend::{Backend, Lists};

/// `b`'s prompts, as `view` exposes them (or remembers them, when `b` is not running).
pub(super) fn add(
    view: &mut View,
    b: &Arc<Backend>,
    lists: &Arc<Lists>,
    (prefix, running, held): (bool, bool, Option<&crate::pins::Judged>),
    reuse: &mut Reuse,
) {
    for (index, prompt) in lists.prompts.iter().enumerate() {
        let Some(original) = prompt["name"].as_str() else {
            continue;
        };
        let name = exposed_name(&b.name, original, prefix);
        if !running {
            view.absent.prompts.entry(name).or_insert(b.id);
            continue;
        }
        if let Some(why) = held.and_then(|h| h.get(crate::pins::Item::Prompt, original)) {
            view.held
                .insert((crate::pins::Item::Prompt, name), why.clone());
            continue;
        }
        if let Some(first) = view.prompt_index.get(&name).map(|i| &view.prompts[*i]) {
            let problem = Problem::offered_twice("prompt", &name, first, &b.name);
            view.errors.push(problem);
            continue;
        }
        let entry = reuse.entry(lists, (Kind::Prompt, index), &name, None, || {
            let mut entry = prompt.clone();
            entry["name"] = Value::String(name.clone());
            entry
        });
        view.prompt_index.insert(name.clone(), view.prompts.len());
        view.prompts.push(Exposed::new(name, b, original, entry));
    }
}
