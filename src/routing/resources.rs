//! A view's resources and resource templates: the earlier registration wins a URI (or
//! an identical template) two servers offer, whatever their names; the other is
//! reported. A server that is down has its URIs remembered as absent.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::apps::UiNames;
use super::skills::Naming;
use super::{Problem, ResourceRoute, TemplateRoute, View};
use crate::backend::{Backend, Status};

/// Adds the resources and templates of `members` to `view` (`ui`: the view's renamed
/// `ui://` URIs).
pub(super) fn add(view: &mut View, members: &[&Arc<Backend>], ui: &UiNames) {
    let mut by_age: Vec<&&Arc<Backend>> = members.iter().collect();
    by_age.sort_by_key(|b| (b.server.registered_us, b.id));
    for b in by_age {
        let lists = b.lists();
        if b.status() != Status::Running {
            for uri in lists.resources.iter().filter_map(|r| r["uri"].as_str()) {
                view.absent.resources.entry(uri.to_string()).or_insert(b.id);
            }
            for t in lists
                .templates
                .iter()
                .filter_map(|t| t["uriTemplate"].as_str())
            {
                view.absent.templates.push((t.to_string(), b.id));
            }
            continue;
        }
        for r in &lists.resources {
            let Some(own) = r["uri"].as_str() else {
                continue;
            };
            let skill_uri = match view.skills.naming(b.id, own) {
                Naming::Other => None,
                Naming::Exposed(uri) => Some(uri),
                Naming::Hidden => continue,
            };
            let uri = skill_uri
                .as_deref()
                .unwrap_or_else(|| ui.exposed(b.id, own));
            if let Some(first) = view.resource_index.get(uri).map(|i| &view.resources[*i]) {
                if first.backend.id != b.id {
                    view.errors
                        .push(shadowed("resource", uri, &first.backend, b));
                }
                continue;
            }
            view.resource_index
                .insert(uri.to_string(), view.resources.len());
            let entry = if uri == own {
                Bytes::from(r.to_string())
            } else {
                let mut renamed = r.clone();
                renamed["uri"] = Value::String(uri.to_string());
                Bytes::from(renamed.to_string())
            };
            view.resources.push(ResourceRoute {
                uri: uri.to_string(),
                backend: (*b).clone(),
                entry,
            });
        }
        for t in &lists.templates {
            let Some(template) = t["uriTemplate"].as_str() else {
                continue;
            };
            if !matches!(view.skills.naming(b.id, template), Naming::Other) {
                // The view routes its skills' URIs itself.
                continue;
            }
            if let Some(first) = view.templates.iter().find(|x| x.template == template) {
                if first.backend.id != b.id {
                    view.errors
                        .push(shadowed("resource template", template, &first.backend, b));
                }
                continue;
            }
            view.templates.push(TemplateRoute {
                template: template.to_string(),
                backend: (*b).clone(),
                entry: Bytes::from(t.to_string()),
            });
        }
    }
}

fn shadowed(what: &str, uri: &str, winner: &Backend, loser: &Backend) -> Problem {
    Problem {
        servers: vec![winner.name.clone(), loser.name.clone()],
        message: format!(
            "{what} {uri:?} is offered by {} and {}; {} (registered first) serves it",
            winner.name, loser.name, winner.name
        ),
    }
}
