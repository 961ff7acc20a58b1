//! Union views: what a key limited to several namespaces reaches, built from their
//! views, and whose namespaces' policies bind each of their tools.

use std::sync::Arc;

use super::View;
use super::entries::fingerprints;

impl View {
    /// The namespaces whose policies by identity bind the tool `name` in this view: its
    /// own namespace (`None` on `/mcp`); in a union, each of its views that offers the
    /// tool (every one when none does). A key limited to namespaces meets on `/mcp` the
    /// policies it meets on their endpoints.
    pub fn policy_namespaces(&self, name: &str) -> Vec<Option<&str>> {
        if self.parts.is_empty() {
            return vec![self.namespace.as_deref()];
        }
        let offering: Vec<Option<&str>> = self
            .parts
            .iter()
            .filter(|p| p.tool(name).is_some() || p.served(name).is_some())
            .map(|p| p.namespace.as_deref())
            .collect();
        match offering.is_empty() {
            false => offering,
            true => self.parts.iter().map(|p| p.namespace.as_deref()).collect(),
        }
    }
}

/// The union of several views: the first to offer a name wins (clashes are listed in
/// `errors`); a name disabled in one view and offered by another is offered.
pub(super) fn union(parts: &[&Arc<View>]) -> View {
    let mut view = View {
        auth_required: true,
        parts: parts.iter().map(|p| Arc::clone(p)).collect(),
        ..View::default()
    };
    let guarded: Vec<_> = parts.iter().filter_map(|p| p.guardrails.as_ref()).collect();
    view.guardrails = crate::guard::Guardrails::union(&guarded);
    for part in parts {
        if view.rules.is_none() {
            view.rules = part.rules.clone();
        }
        for p in &part.policies {
            if !view.policies.iter().any(|q| q.name() == p.name()) {
                view.policies.push(p.clone());
            }
        }
        for t in &part.tools {
            if view.tool_index.contains_key(&t.name) {
                continue;
            }
            view.tool_index.insert(t.name.clone(), view.tools.len());
            view.tools.push(t.clone());
        }
        for t in &part.served {
            if !view.served_index.contains_key(&t.name) {
                view.served_index.insert(t.name.clone(), view.served.len());
                view.served.push(t.clone());
            }
        }
        for p in &part.prompts {
            if !view.prompt_index.contains_key(&p.name) {
                view.prompt_index.insert(p.name.clone(), view.prompts.len());
                view.prompts.push(p.clone());
            }
        }
        for r in &part.resources {
            if !view.resource_index.contains_key(&r.uri) {
                view.resource_index
                    .insert(r.uri.clone(), view.resources.len());
                view.resources.push(r.clone());
            }
        }
        for t in &part.templates {
            if !view.templates.iter().any(|x| x.template == t.template) {
                view.templates.push(t.clone());
            }
        }
        view.header_params |= part.header_params;
        for m in &part.members {
            if !view.members.contains(m) {
                view.members.push(*m);
            }
        }
        view.absent.extend(&part.absent);
        view.disabled.extend(part.disabled.iter().cloned());
        for (key, why) in &part.held {
            view.held.entry(key.clone()).or_insert_with(|| why.clone());
        }
        view.errors.extend(part.errors.iter().cloned());
        view.completions |= part.completions;
        view.tasks |= part.tasks;
        view.subscribe |= part.subscribe;
        view.apps |= part.apps;
        view.search |= part.search;
        view.skills.extend(&part.skills);
        for (uri, r) in &part.ui {
            view.ui.entry(uri.clone()).or_insert_with(|| r.clone());
        }
    }
    view.disabled.retain(|name| {
        !view.tool_index.contains_key(name) && !view.served_index.contains_key(name)
    });
    let held = std::mem::take(&mut view.held);
    view.held = held
        .into_iter()
        .filter(|((item, name), _)| match item {
            crate::pins::Item::Tool => !view.tool_index.contains_key(name),
            crate::pins::Item::Prompt => !view.prompt_index.contains_key(name),
        })
        .collect();
    let mut absent = std::mem::take(&mut view.absent);
    absent.without_live(&view);
    view.absent = absent;
    view.fingerprints = fingerprints(&view);
    view
}
