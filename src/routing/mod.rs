//! The routing table: which backend owns each exposed tool, prompt and resource, per view
//! (`/mcp` and every namespace). Built whole from the registry snapshot and the running
//! backends' lists, then swapped in with one atomic store: readers never lock and never
//! see half an update.
//!
//! Exposed names are `<server>__<name>` (or the bare name under `tool_prefix: never`),
//! kept inside `^[A-Za-z0-9_-]{1,64}$`: a name that would be too long or has other
//! characters is shortened deterministically to a readable prefix plus a hash of the
//! original, and the table maps it back.

mod apps;
mod changes;
mod entries;
pub mod gateway;
mod header_params;
mod names;
mod overrides;
mod prompts;
mod resources;
pub mod search;
pub mod skill_path;
pub mod skills;
pub mod subscriptions;
mod suggest;
mod task_support;
mod templates;
mod union;

pub use names::{exposed_name, fnv1a};

pub use apps::{UI_EXTENSION, UiRoute};
pub use changes::{ListChanged, list_changes, new_problems};
pub use gateway::{Called, GatewayCall, GatewayTool, SERVED_BY, Served, ToolError};
pub use header_params::{header_params, header_params_valid};
pub use task_support::TaskSupport;
pub use templates::template_matches;

/// The tasks extension of MCP 2026-07-28 (SEP-2663), as capabilities name it.
pub const TASKS_EXTENSION: &str = "io.modelcontextprotocol/tasks";

use foldhash::{HashMap, HashSet};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use serde_json::Value;
use uuid::Uuid;

use crate::backend::{Backend, Status};
use crate::jsonrpc::frame::json_string;
use crate::model::limits::Rate;
use crate::model::{Namespace, Snapshot};
use crate::policy::Policy;
use crate::policy::schema::Schema;
use entries::{Entries, Entry, Kind, Reuse, fingerprints};
use overrides::unmatched_overrides;
pub(crate) use overrides::{Exposure, exposure};

/// What the gateway adds to every view of its own: the tools it serves itself and the
/// policies every call passes through (besides a namespace's own).
#[derive(Default, Clone)]
pub struct Gateway {
    pub tools: Vec<Arc<dyn GatewayTool>>,
    pub policies: Vec<Arc<dyn Policy>>,
    /// The stored policies by identity ([`crate::policy::rules`]), when there are any.
    pub rules: Option<Arc<crate::policy::rules::RuleSet>>,
    /// Tool search of `/mcp` (`METAMCP_TOOL_SEARCH`); a namespace has its own.
    pub search: crate::model::ToolSearch,
    /// Code mode of `/mcp` (`METAMCP_CODE_MODE`); a namespace has its own.
    pub code_mode: crate::model::CodeMode,
    /// Tool embeddings, when tool search uses meaning as well as words
    /// (`METAMCP_TOOL_SEARCH_RETRIEVAL`).
    pub embeddings: Option<Arc<crate::search::semantic::Store>>,
    /// What searches learn from the calls after them, per namespace
    /// (`METAMCP_SEARCH_LEARNING`); `None` when off.
    pub learning: Option<Arc<crate::search::learning::Learning>>,
    /// The pins every tool and prompt is checked against ([`crate::pins`]); none in
    /// tables built without a database.
    pub pins: Option<Arc<crate::pins::Book>>,
    /// What namespaces' guardrails share ([`crate::guard`]); none in tables built without
    /// a client.
    pub guards: Option<Arc<crate::guard::Hooks>>,
}

/// One exposed tool or prompt.
#[derive(Clone)]
pub struct Exposed {
    pub name: String,
    pub backend: Arc<Backend>,
    /// The backend's own name for it.
    pub original: String,
    /// The backend's own name as a JSON string literal, spliced into requests.
    pub upstream_name: Bytes,
    /// The listing entry (name and description as exposed), serialised once.
    pub entry: Bytes,
    /// A hash of `entry`, for the view's fingerprints.
    entry_hash: u64,
    /// Its tool search document, made when first searched (shared with the entry).
    pub doc: search::DocCell,
    /// A per-key rate the namespace sets for this tool.
    pub rate: Option<ToolRate>,
    /// The arguments a 2026-07-28 client also sends as `Mcp-Param-*` headers (SEP-2243):
    /// (property, header name after `Mcp-Param-`). Empty for almost every tool.
    pub header_params: Arc<[(String, String)]>,
    /// Whether a tool runs as a task (always forbidden for prompts).
    pub task: TaskSupport,
    /// The tool's `inputSchema`, compiled, when the view checks arguments
    /// (`validate_arguments`).
    pub schema: Option<Arc<Schema>>,
}

/// A namespace's rate for one tool, applied per key.
#[derive(Clone, Debug)]
pub struct ToolRate {
    pub rate: Rate,
    /// `<namespace>/<exposed name>`: what each key's bucket is kept under.
    pub id: Arc<str>,
}

/// One resource, routed by its exact URI.
#[derive(Clone)]
pub struct ResourceRoute {
    pub uri: String,
    pub backend: Arc<Backend>,
    pub entry: Bytes,
}

/// One resource template, routed by matching URIs against it.
#[derive(Clone)]
pub struct TemplateRoute {
    pub template: String,
    pub backend: Arc<Backend>,
    pub entry: Bytes,
}

/// An entry of a list method: its owner and its listing, serialised once.
pub trait Listed {
    fn backend(&self) -> &Arc<Backend>;
    fn entry(&self) -> &Bytes;
}

macro_rules! listed {
    ($($t:ty),*) => {$(
        impl Listed for $t {
            fn backend(&self) -> &Arc<Backend> {
                &self.backend
            }
            fn entry(&self) -> &Bytes {
                &self.entry
            }
        }
    )*};
}
listed!(Exposed, ResourceRoute, TemplateRoute);

/// A configuration problem of a view, naming the servers involved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Problem {
    pub servers: Vec<String>,
    pub message: String,
}

impl Exposed {
    /// `b`'s `original` exposed as `name` with `entry`: no rate, header parameters,
    /// task support or schema (a tool sets its own).
    fn new(name: String, b: &Arc<Backend>, original: &str, entry: Entry) -> Exposed {
        Exposed {
            name,
            backend: b.clone(),
            original: original.to_string(),
            upstream_name: Bytes::from(json_string(original)),
            entry: entry.bytes,
            entry_hash: entry.hash,
            doc: entry.doc,
            rate: None,
            header_params: Arc::from([]),
            task: TaskSupport::Forbidden,
            schema: None,
        }
    }
}

impl Problem {
    pub fn to_json(&self) -> Value {
        serde_json::json!({"servers": self.servers, "message": self.message})
    }
}

/// What one endpoint (`/mcp` or `/mcp/{namespace}`) exposes.
#[derive(Default)]
pub struct View {
    /// The policies its calls pass through ([`crate::policy`]); empty by default.
    pub policies: Vec<Arc<dyn Policy>>,
    /// The policies by identity that apply to it (`None`: none, the default, and then
    /// lists and calls pay nothing for them).
    pub rules: Option<Arc<crate::policy::rules::RuleSet>>,
    /// The namespace it is the view of (`None`: `/mcp`, or a union).
    pub namespace: Option<Arc<str>>,
    /// A union's views ([`union`]), whose policies bind the tools each offers.
    pub parts: Vec<Arc<View>>,
    /// Its namespace's external guardrails ([`crate::guard`]); `None`: none, the default.
    pub guardrails: Option<Arc<crate::guard::Guardrails>>,
    pub tools: Vec<Exposed>,
    tool_index: HashMap<String, usize>,
    /// Tools the gateway serves itself ([`gateway`]), listed after the backends'.
    pub served: Vec<Served>,
    served_index: HashMap<String, usize>,
    /// Exposed names switched off by the namespace (calls get a clear error).
    pub disabled: HashSet<String>,
    /// Tools and prompts held for review ([`crate::pins`]), by kind and exposed name (a
    /// tool and a prompt of one name are two items): not listed, and a call is told why.
    pub held: HashMap<(crate::pins::Item, String), Arc<crate::pins::Why>>,
    pub prompts: Vec<Exposed>,
    prompt_index: HashMap<String, usize>,
    pub resources: Vec<ResourceRoute>,
    resource_index: HashMap<String, usize>,
    pub templates: Vec<TemplateRoute>,
    /// Names this view exposes, or exposed, for servers that are not running now: a
    /// call to one gets "server `X` is unavailable", not "unknown".
    pub absent: Absent,
    /// Backends in this view (running or not).
    pub members: Vec<Uuid>,
    /// Configuration problems found while building: names offered twice (under
    /// `tool_prefix: never`), resource URIs or templates claimed by two servers.
    pub errors: Vec<Problem>,
    /// A fingerprint per list, to tell clients when a list changed.
    pub fingerprints: [u64; 3],
    pub auth_required: bool,
    /// Capabilities of the running members.
    pub completions: bool,
    /// A member runs tools as tasks (MCP 2025-11-25 `tasks.requests.tools.call`).
    pub tasks: bool,
    pub subscribe: bool,
    /// A member offers MCP Apps ([`UI_EXTENSION`]).
    pub apps: bool,
    /// Every `ui://` URI of the running members, listed or only named by a tool, as
    /// exposed (see [`apps`]).
    pub ui: HashMap<String, UiRoute>,
    /// Its members' skills (SEP-2640), URIs exposed (see [`skills`]).
    pub skills: skills::Skills,
    /// Whether any tool declares `x-mcp-header` arguments (so a stateless `tools/call`
    /// needs its `Mcp-Param-*` headers checked at all).
    pub header_params: bool,
    /// Whether `tools/list` gives the search tools instead of every tool: the view's
    /// mode ([`search_mode`](Self::search_mode)) against its full list's size.
    pub search: bool,
    /// The tool search mode configured for the view.
    pub search_mode: crate::model::ToolSearch,
    /// Code mode: `run_code` listed beside the search tools (which it turns on), and
    /// `search_tools` giving each tool's TypeScript declaration.
    pub code_mode: bool,
    /// The bytes of its full `tools/list` entries, which `auto` weighs.
    pub listed_bytes: usize,
    /// Tool embeddings, when its search uses meaning as well as words.
    pub embeddings: Option<Arc<crate::search::semantic::Store>>,
    /// Its namespace's learning from the calls after its searches; `None` when off and
    /// for a union of namespaces (each learns in its own view).
    pub learning: Option<Arc<crate::search::learning::Learning>>,
    /// The searcher of its tools, built when first searched or, in search mode, when the
    /// view is ([`View::searcher`]).
    index: std::sync::OnceLock<Arc<crate::search::Searcher>>,
}

/// What a view exposed for servers that are down: exposed names (as clients know them,
/// overrides and shortening applied) and resource URIs, each with its server's id.
#[derive(Default, Clone)]
pub struct Absent {
    pub tools: HashMap<String, Uuid>,
    pub prompts: HashMap<String, Uuid>,
    pub resources: HashMap<String, Uuid>,
    pub templates: Vec<(String, Uuid)>,
}

impl Absent {
    /// The down server behind a resource URI (exact, else by template).
    pub fn resource(&self, uri: &str) -> Option<Uuid> {
        self.resources.get(uri).copied().or_else(|| {
            self.templates
                .iter()
                .find(|(t, _)| template_matches(t, uri))
                .map(|(_, id)| *id)
        })
    }

    /// Adds what `other` knows that this does not.
    fn extend(&mut self, other: &Absent) {
        for (mine, theirs) in [
            (&mut self.tools, &other.tools),
            (&mut self.prompts, &other.prompts),
            (&mut self.resources, &other.resources),
        ] {
            for (k, v) in theirs {
                mine.entry(k.clone()).or_insert(*v);
            }
        }
        for t in &other.templates {
            if !self.templates.iter().any(|x| x.0 == t.0) {
                self.templates.push(t.clone());
            }
        }
    }

    /// Forgets what the view now serves live.
    fn without_live(&mut self, view: &View) {
        self.tools.retain(|n, _| !view.tool_index.contains_key(n));
        self.prompts
            .retain(|n, _| !view.prompt_index.contains_key(n));
        self.resources
            .retain(|u, _| !view.resource_index.contains_key(u));
        self.templates
            .retain(|(t, _)| !view.templates.iter().any(|x| &x.template == t));
    }
}

impl View {
    pub fn tool(&self, name: &str) -> Option<&Exposed> {
        self.tool_index.get(name).map(|i| &self.tools[*i])
    }

    /// A tool the gateway serves itself, by its exposed name.
    pub fn served(&self, name: &str) -> Option<&Served> {
        self.served_index.get(name).map(|i| &self.served[*i])
    }

    /// Every tool's listing entry: the backends', then the gateway's own.
    pub fn tool_entries(&self) -> impl Iterator<Item = &Bytes> {
        self.tools
            .iter()
            .map(|t| &t.entry)
            .chain(self.served.iter().map(|s| &s.entry))
    }

    pub fn prompt(&self, name: &str) -> Option<&Exposed> {
        self.prompt_index.get(name).map(|i| &self.prompts[*i])
    }

    /// The backend serving `uri`: an exact listed resource, else a matching template.
    pub fn resource_backend(&self, uri: &str) -> Option<&Arc<Backend>> {
        if let Ok(Some(r)) = self.skills.resolve(uri, skills::Access::File) {
            return Some(&r.skill.backend);
        }
        if let Some(r) = self.ui.get(uri) {
            return Some(&r.backend);
        }
        if let Some(i) = self.resource_index.get(uri) {
            return Some(&self.resources[*i].backend);
        }
        self.templates
            .iter()
            .find(|t| template_matches(&t.template, uri))
            .map(|t| &t.backend)
    }
}

/// The whole table.
#[derive(Default)]
pub struct Table {
    /// `None`: the implicit view of every server (`/mcp`).
    pub views: HashMap<Option<String>, Arc<View>>,
    /// Union views of keys limited to several namespaces, built on first use.
    reaches: std::sync::Mutex<HashMap<Vec<String>, Arc<View>>>,
    /// Its views' listing entries, for the next table to take ([`entries`]).
    entries: Entries,
    /// The connection of each backend that was running when it was built.
    routed: HashMap<Uuid, u64>,
}

/// Union views cached per table at most (a table lives until the next registry change).
const MAX_CACHED_REACHES: usize = 1024;

impl Table {
    /// It serves `b`'s lists of its current connection: what `running` means to a user.
    pub fn routes(&self, b: &Backend) -> bool {
        b.status() == Status::Running && self.routed.get(&b.id) == Some(&b.connection())
    }

    /// The backends it serves that `older` did not (connected since, or again).
    pub fn newly_routed<'a>(&'a self, older: &'a Table) -> impl Iterator<Item = Uuid> + 'a {
        let routed = |t: &Table, id: &Uuid| t.routed.get(id).copied();
        self.routed
            .keys()
            .filter(move |id| routed(self, id) != routed(older, id))
            .copied()
    }

    pub fn view(&self, namespace: Option<&str>) -> Option<&Arc<View>> {
        self.views.get(&namespace.map(str::to_string))
    }

    /// What a key limited to `namespaces` reaches on `/mcp`: the union of those
    /// namespaces' views, their overrides applied (a tool disabled in one of them is
    /// reachable only if another one offers it). Namespaces that do not exist add
    /// nothing.
    pub fn reach(&self, namespaces: &[String]) -> Arc<View> {
        let mut names: Vec<String> = namespaces.to_vec();
        names.sort();
        names.dedup();
        if let [one] = names.as_slice() {
            return self
                .views
                .get(&Some(one.clone()))
                .cloned()
                .unwrap_or_default();
        }
        let mut cache = self.reaches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(&names) {
            return v.clone();
        }
        let parts: Vec<&Arc<View>> = names
            .iter()
            .filter_map(|n| self.views.get(&Some(n.clone())))
            .collect();
        let view = Arc::new(union::union(&parts));
        if cache.len() < MAX_CACHED_REACHES {
            cache.insert(names, view.clone());
        }
        view
    }
}

/// A tool's `inputSchema`, compiled for `validate_arguments`; `None` (its calls are not
/// checked) when it has none or it cannot be compiled.
pub(super) fn compiled(tool: &Value, server: &str) -> Option<Arc<Schema>> {
    let schema = tool.get("inputSchema")?;
    match Schema::compile(schema) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            tracing::debug!(server, tool = %tool["name"], error = ?e,
                "a tool's inputSchema cannot be compiled; its arguments are not checked");
            None
        }
    }
}

/// The swappable table.
pub struct Routing {
    table: ArcSwap<Table>,
}

impl Default for Routing {
    fn default() -> Self {
        Routing {
            table: ArcSwap::from_pointee(Table::default()),
        }
    }
}

impl Routing {
    pub fn load(&self) -> Arc<Table> {
        self.table.load_full()
    }

    /// Installs `fresh`; returns the previous table.
    pub fn store(&self, fresh: Table) -> Arc<Table> {
        self.table.swap(Arc::new(fresh))
    }
}

/// Builds the table from the registry and the backends; `previous` (the table being
/// replaced) lends the names of servers that are down and have no lists of their own.
/// `own`: the tools the gateway serves itself ([`gateway`]) and the policies of every
/// view.
pub fn build(
    snapshot: &Snapshot,
    backends: &[Arc<Backend>],
    own: &Gateway,
    previous: &Table,
) -> Table {
    let by_id: HashMap<Uuid, &Arc<Backend>> = backends.iter().map(|b| (b.id, b)).collect();
    // Noted before any list is read: a connection counted here set its lists before.
    let mut table = Table {
        routed: backends
            .iter()
            .filter(|b| b.status() == Status::Running)
            .map(|b| (b.id, b.connection()))
            .collect(),
        ..Table::default()
    };
    let mut reuse = Reuse::from(&previous.entries);
    let others = crate::pins::Others::of(backends);
    let all: Vec<&Arc<Backend>> = {
        let mut v: Vec<&Arc<Backend>> = snapshot
            .servers
            .iter()
            .filter_map(|s| by_id.get(&s.id).copied())
            .collect();
        v.sort_by(|a, b| {
            a.name
                .to_ascii_lowercase()
                .cmp(&b.name.to_ascii_lowercase())
        });
        v
    };
    let down = |id: &Uuid| by_id.get(id).is_some_and(|b| b.status() != Status::Running);
    let finish = |mut view: View, key: &Option<String>| {
        if let Some(old) = previous.views.get(key) {
            remember(&mut view, old, &down);
        }
        Arc::new(view)
    };
    table.views.insert(
        None,
        finish(build_view(&all, own, None, &mut reuse, &others), &None),
    );
    for ns in &snapshot.namespaces {
        let members: Vec<&Arc<Backend>> = ns
            .servers
            .iter()
            .filter_map(|name| {
                snapshot
                    .servers
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(name))
                    .and_then(|s| by_id.get(&s.id).copied())
            })
            .collect();
        let key = Some(ns.name.clone());
        let view = finish(
            build_view(&members, own, Some(ns), &mut reuse, &others),
            &key,
        );
        table.views.insert(key, view);
    }
    table.entries = reuse.finish();
    table
}

fn build_view(
    members: &[&Arc<Backend>],
    own: &Gateway,
    ns: Option<&Namespace>,
    reuse: &mut Reuse,
    others: &crate::pins::Others<'_>,
) -> View {
    let prefix = ns.is_none_or(|n| n.prefix_tools);
    let mut view = View {
        auth_required: ns.is_none_or(|n| n.auth_required),
        members: members.iter().map(|b| b.id).collect(),
        namespace: ns.map(|n| Arc::from(n.name.as_str())),
        ..View::default()
    };
    let ui = apps::UiNames::of(members);
    // Override keys that matched a tool (the rest are reported).
    let mut matched: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let validate = ns.is_some_and(|n| n.validate_arguments);
    view.policies = own.policies.clone();
    view.rules = own
        .rules
        .clone()
        .filter(|r| r.applies_to(ns.map(|n| n.name.as_str())));
    if validate {
        view.policies
            .push(Arc::new(crate::policy::arguments::ValidateArguments));
    }
    view.guardrails = ns
        .zip(own.guards.as_ref())
        .and_then(|(n, hooks)| hooks.of(&n.name, &n.guardrails));
    gateway::add(&mut view, &own.tools, ns, validate, &mut matched);
    // Every member is named alike; a server that is down keeps its last lists, and what
    // it would expose is remembered in `absent` rather than listed.
    for b in members {
        let running = b.status() == Status::Running;
        let lists = b.lists();
        let held = own
            .pins
            .as_ref()
            .map(|p| p.judge(b.id, &b.name, &lists, others));
        if running {
            let caps = &lists.capabilities;
            view.completions |= caps.get("completions").is_some();
            view.tasks |= caps["tasks"]["requests"]["tools"].get("call").is_some()
                || caps["extensions"][crate::routing::TASKS_EXTENSION].is_object();
            view.subscribe |= caps["resources"]["subscribe"].as_bool() == Some(true);
            view.apps |= apps::offers_apps(caps, &lists.tools);
        }
        for (index, tool) in lists.tools.iter().enumerate() {
            let Some(original) = tool["name"].as_str() else {
                continue;
            };
            if let Some(p) = header_params::invalid_declaration(tool, original, &b.name) {
                view.errors.push(p);
                continue;
            }
            let (name, o) = match exposure(&b.name, original, ns, &mut matched) {
                Exposure::Disabled(name) => {
                    view.disabled.insert(name);
                    continue;
                }
                Exposure::Exposed(name, o) => (name, o),
                Exposure::Claimed { name, owner } => {
                    view.errors
                        .push(Problem::claimed(&name, &b.name, original, &owner));
                    continue;
                }
            };
            if !running {
                view.absent.tools.entry(name).or_insert(b.id);
                continue;
            }
            if let Some(why) = held
                .as_ref()
                .and_then(|h| h.get(crate::pins::Item::Tool, original))
            {
                view.held
                    .insert((crate::pins::Item::Tool, name), why.clone());
                continue;
            }
            if gateway::clash(&mut view, &name, &b.name) {
                continue;
            }
            if let Some(first) = view.tool_index.get(&name).map(|i| &view.tools[*i]) {
                view.errors
                    .push(Problem::offered_twice("tool", &name, first, &b.name));
                continue;
            }
            let description = o.and_then(|o| o.description.as_deref());
            let make = || {
                let mut entry = tool.clone();
                entry["name"] = Value::String(name.clone());
                ui.tool_entry(b.id, &mut entry);
                if let Some(d) = description {
                    entry["description"] = Value::String(d.to_string());
                }
                entry
            };
            let entry = match ui.touches(tool) {
                true => Entry::of(&make()),
                false => reuse.entry(&lists, (Kind::Tool, index), &name, description, make),
            };
            view.tool_index.insert(name.clone(), view.tools.len());
            let rate = o.and_then(|o| o.rate).zip(ns).map(|(rate, ns)| ToolRate {
                rate,
                id: Arc::from(format!("{}/{name}", ns.name)),
            });
            view.tools.push(Exposed {
                rate,
                header_params: header_params(tool),
                task: TaskSupport::of(tool),
                schema: validate.then(|| compiled(tool, &b.name)).flatten(),
                ..Exposed::new(name, b, original, entry)
            });
            view.header_params |= view
                .tools
                .last()
                .is_some_and(|t| !t.header_params.is_empty());
        }
        prompts::add(
            &mut view,
            b,
            &lists,
            (prefix, running, held.as_deref()),
            reuse,
        );
    }
    skills::add(&mut view, members, ns, prefix, &mut matched);
    resources::add(&mut view, members, &ui);
    if let Some(ns) = ns {
        unmatched_overrides(&mut view, members, ns, &matched);
    }
    view.ui = ui.routes();
    let mut absent = std::mem::take(&mut view.absent);
    absent.without_live(&view);
    view.absent = absent;
    view.search_mode = ns.map_or(own.search, |n| n.tool_search);
    view.code_mode = ns.map_or(own.code_mode, |n| n.code_mode) == crate::model::CodeMode::On;
    view.embeddings = own.embeddings.clone();
    view.learning = own.learning.clone();
    search::resolve(&mut view);
    view.fingerprints = fingerprints(&view);
    view
}

impl Problem {
    /// `server`'s tool `original`, exposed as `name`, which is the key of an override of
    /// `owner`'s tool: left out.
    fn claimed(name: &str, server: &str, original: &str, owner: &str) -> Problem {
        Problem {
            servers: vec![server.to_string(), owner.to_string()],
            message: format!(
                "server {server} offers a tool exposed as {name:?}, the key of the override \
                 of server {owner}'s tool; the override binds {owner}'s tool only, so \
                 {server}'s is left out (give it an override of its own, \
                 \"{server}__{original}\", to offer it under another name)"
            ),
        }
    }

    /// `name` offered by two members of a view: `first`'s is kept, `second`'s hidden.
    fn offered_twice(what: &str, name: &str, first: &Exposed, second: &str) -> Problem {
        let kept = &first.backend.name;
        Problem {
            servers: vec![kept.clone(), second.to_string()],
            message: format!(
                "{what} {name:?} is offered by {kept} and {second}; the one from {second} is hidden"
            ),
        }
    }
}

/// Carries over what `old` exposed (live or remembered) for servers that are still
/// members of the view but not running now, so a server whose lists are gone (its
/// backend was rebuilt, or never listed since) still answers "unavailable" by every
/// name it had.
fn remember(view: &mut View, old: &View, down: &dyn Fn(&Uuid) -> bool) {
    let keep = |id: &Uuid| view.members.contains(id) && down(id);
    let mut was = Absent::default();
    for (list, map) in [
        (&old.tools, &mut was.tools),
        (&old.prompts, &mut was.prompts),
    ] {
        for e in list.iter().filter(|e| keep(&e.backend.id)) {
            map.insert(e.name.clone(), e.backend.id);
        }
    }
    for r in old.resources.iter().filter(|r| keep(&r.backend.id)) {
        was.resources.insert(r.uri.clone(), r.backend.id);
    }
    for t in old.templates.iter().filter(|t| keep(&t.backend.id)) {
        was.templates.push((t.template.clone(), t.backend.id));
    }
    let mut kept = old.absent.clone();
    kept.tools.retain(|_, id| keep(id));
    kept.prompts.retain(|_, id| keep(id));
    kept.resources.retain(|_, id| keep(id));
    kept.templates.retain(|(_, id)| keep(id));
    was.extend(&kept);
    was.without_live(view);
    view.absent.extend(&was);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::is_valid_tool_name;

    #[test]
    fn names_stay_valid_unique_and_stable() {
        assert_eq!(
            exposed_name("time", "get_current_time", true),
            "time__get_current_time"
        );
        assert_eq!(exposed_name("time", "now", false), "now");
        let long = "a_really_long_tool_name_that_goes_on_and_on_beyond_what_clients_accept";
        let a = exposed_name("github", long, true);
        assert_eq!(a.len(), 64);
        assert!(is_valid_tool_name(&a));
        assert!(a.starts_with("github__a_really_long"));
        assert_eq!(a, exposed_name("github", long, true), "deterministic");
        let b = exposed_name("github", &format!("{long}_2"), true);
        assert_ne!(a, b, "distinct originals stay distinct");
        let dotted = exposed_name("fs", "read.file", true);
        assert!(is_valid_tool_name(&dotted));
        assert!(dotted.starts_with("fs__read_file_"));
    }

    fn namespace(
        enabled_by_default: bool,
        tools: std::collections::BTreeMap<String, crate::model::ToolOverride>,
    ) -> Namespace {
        Namespace {
            name: "team".into(),
            description: None,
            servers: vec!["s".into()],
            prefix_tools: true,
            auth_required: true,
            tools,
            tools_enabled_by_default: enabled_by_default,
            validate_arguments: false,
            tool_search: Default::default(),
            tool_changes: Default::default(),
            code_mode: Default::default(),
            guardrails: Vec::new(),
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    /// A key naming a member binds that member's tool: under `tool_prefix: never`
    /// another member's tool exposed under the key does not take it (allow-list or not),
    /// the named member's does, and a key naming no member is matched by exposed name.
    #[test]
    fn a_key_naming_a_member_binds_that_member_s_tool_only() {
        let o = crate::model::ToolOverride {
            enabled: true,
            name: None,
            description: None,
            rate: None,
        };
        for enabled_by_default in [false, true] {
            let tools = [
                ("alw__echo".to_string(), o.clone()),
                ("free".into(), o.clone()),
            ];
            let mut ns = namespace(enabled_by_default, tools.into_iter().collect());
            ns.servers = vec!["alw".into(), "evl".into()];
            ns.prefix_tools = false;
            let mut matched = std::collections::HashSet::new();
            let e = exposure("evl", "alw__echo", Some(&ns), &mut matched);
            assert!(
                matches!(&e, Exposure::Claimed { name, owner } if name == "alw__echo" && owner == "alw")
            );
            assert!(matched.is_empty());
            let e = exposure("alw", "echo", Some(&ns), &mut matched);
            assert!(matches!(&e, Exposure::Exposed(n, Some(_)) if n == "echo"));
            let e = exposure("evl", "free", Some(&ns), &mut matched);
            assert!(matches!(&e, Exposure::Exposed(n, Some(_)) if n == "free"));
            // A key whose first part is no member is an exposed name.
            ns.servers = vec!["evl".into()];
            let mut matched = std::collections::HashSet::new();
            let e = exposure("evl", "alw__echo", Some(&ns), &mut matched);
            assert!(matches!(&e, Exposure::Exposed(n, Some(_)) if n == "alw__echo"));
        }
    }

    /// A tool is offered when its override says so, and otherwise by the namespace's
    /// default: with `tools_default: disabled` only the tools named (without `enabled:
    /// false`) are, whatever a server offers; with `enabled`, every tool but those
    /// switched off, as before. No namespace (`/mcp`) offers everything.
    #[test]
    fn an_allow_list_offers_only_what_it_names() {
        use proptest::prelude::*;
        let tool = "[a-c]{1,2}";
        proptest!(|(
            overrides in proptest::collection::btree_map(tool, proptest::option::of(any::<bool>()), 0..6),
            offered in proptest::collection::vec(tool, 1..8),
            enabled_by_default in any::<bool>(),
        )| {
            let tools = overrides
                .iter()
                .map(|(t, enabled)| {
                    let o = crate::model::ToolOverride {
                        enabled: enabled.unwrap_or(true),
                        name: None,
                        description: None,
                        rate: None,
                    };
                    (format!("s__{t}"), o)
                })
                .collect();
            let ns = namespace(enabled_by_default, tools);
            for t in &offered {
                let mut matched = std::collections::HashSet::new();
                let shown = matches!(exposure("s", t, Some(&ns), &mut matched), Exposure::Exposed(..));
                let want = match overrides.get(t) {
                    Some(enabled) => enabled.unwrap_or(true),
                    None => enabled_by_default,
                };
                prop_assert_eq!(shown, want, "{} {:?}", t, overrides);
                let mut matched = std::collections::HashSet::new();
                prop_assert!(matches!(exposure("s", t, None, &mut matched), Exposure::Exposed(..)));
            }
        });
    }

    #[test]
    fn templates() {
        assert!(template_matches("mock://items/{id}", "mock://items/42"));
        assert!(!template_matches("mock://items/{id}", "mock://items/"));
        assert!(!template_matches("mock://items/{id}", "mock://other/42"));
        assert!(template_matches("file:///{path}", "file:///a/b/c"));
        assert!(template_matches(
            "db://{table}/rows/{id}",
            "db://users/rows/7"
        ));
        assert!(!template_matches(
            "db://{table}/rows/{id}",
            "db://users/cols/7"
        ));
        assert!(template_matches("static://x", "static://x"));
    }
}
