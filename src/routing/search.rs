//! A view's tool search: whether its `tools/list` gives every tool or the gateway's
//! `search_tools` and `call_tool` ([`resolve`]), the index of its tools built when first
//! searched ([`View::search`]), and `call_tool`'s listing entry. Only a view's own tools
//! are indexed, in its own names (prefixes and overrides applied, disabled tools absent),
//! so a search never finds a tool outside the caller's reach; the gateway's own tools are
//! not indexed (`call_tool` does not call them).

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::Value;

use super::{Exposed, View};
use crate::search::Doc;

/// The name of the tool that calls a found tool by its name.
pub const CALL_TOOL: &str = "call_tool";

/// The name of the tool that searches.
pub const SEARCH_TOOLS: &str = "search_tools";

/// `call_tool`'s listing entry.
pub fn call_tool_entry() -> Bytes {
    Bytes::from(
        serde_json::json!({
            "name": CALL_TOOL,
            "title": "Call a tool",
            "description": "Calls a tool that search_tools found, by its name, with its arguments. \
                The call is the tool's own: its result, errors, progress and questions come back as \
                if it had been called directly (it also stays callable by its name).",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The tool's name, as search_tools gave it"},
                    "arguments": {"type": "object", "description": "The tool's arguments, as its inputSchema describes them"}
                },
                "required": ["name"]
            },
            "annotations": {"title": "Call a tool", "openWorldHint": true}
        })
        .to_string(),
    )
}

/// Decides whether `view` is searched (its mode against the size of every tool's entry)
/// and, when it is not, takes the search tools out of it.
pub(super) fn resolve(view: &mut View) {
    let full: usize = view.tool_entries().map(|e| e.len() + 1).sum();
    view.listed_bytes = full;
    // Code mode lists the search tools and `run_code` instead of every tool.
    view.search = view.code_mode || view.search_mode.on_for(full);
    let (code_mode, search) = (view.code_mode, view.search);
    let kept = |s: &super::Served| match s.tool.name() {
        crate::codemode::RUN_CODE => code_mode,
        _ => search || !s.tool.search_tool(),
    };
    if !view.served.iter().all(kept) {
        view.served.retain(kept);
        view.served_index = view
            .served
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
    }
}

impl View {
    /// Its search mode as clients meet it: `tool_search_effective` (`on` or `off`), why
    /// (the setting, and for `auto` the full list's size against the bound), and, when
    /// meaning is searched too, how many of its tools are embedded so far (until then
    /// those are ranked by their words).
    pub fn search_status(&self) -> Value {
        use crate::model::ToolSearch;
        let kib = |b: usize| b.div_ceil(1024);
        let why = match self.search_mode {
            ToolSearch::On => "tool_search is on".to_string(),
            ToolSearch::Off => "tool_search is off".to_string(),
            ToolSearch::Auto => format!(
                "auto: the full tools/list is {} KiB, {} the {} KiB at which search turns on",
                kib(self.listed_bytes),
                if self.search { "over" } else { "within" },
                ToolSearch::AUTO_BYTES / 1024
            ),
        };
        let mut out = serde_json::json!({
            "tool_search_effective": if self.search { "on" } else { "off" },
            "tool_search_why": why,
        });
        if let Some(store) = &self.embeddings {
            // Only tools whose search text was made (the view was searched, or is in
            // search mode) can have been asked for: the others count as not embedded,
            // and nothing is made here (a GET stays cheap).
            let embedded = self
                .tools
                .iter()
                .filter(|t| t.doc.get().is_some_and(|m| store.get(&m.doc.key).is_some()))
                .count();
            out["tool_search_embedded"] = serde_json::json!({
                "tools": self.tools.len(),
                "embedded": embedded,
                // The catalogue a need is compared with before "no tool fits" (the
                // build embedded it: always all of it).
                "background": crate::search::background::catalogue().len(),
                "background_of": crate::search::background::catalogue().len(),
            });
        }
        out
    }

    /// The entries its `tools/list` gives: with search on, the gateway's own tools and
    /// `call_tool`; otherwise every tool.
    pub fn listed_tools(&self) -> Vec<Bytes> {
        if !self.search {
            return self.tool_entries().cloned().collect();
        }
        let mut out: Vec<Bytes> = self.served.iter().map(|s| s.entry.clone()).collect();
        out.push(call_tool_entry());
        out
    }

    /// The searcher of its tools, built on first use (a view lives until its lists or
    /// the registry change); in search mode, built when the view is
    /// (`state.rs`), so the tools' embeddings are asked for before the first search.
    pub fn searcher(&self) -> &Arc<crate::search::Searcher> {
        self.index
            .get_or_init(|| Arc::new(build_searcher(&self.tools, self.embeddings.clone())))
    }

    /// The tools of this view that fit `query`, best first, at most `limit`, with their
    /// scores. The searcher, when this is the view's first search, and the query's
    /// embedding are computed off the runtime's threads.
    pub async fn search(
        self: &Arc<Self>,
        query: &str,
        limit: usize,
    ) -> Vec<(&Exposed, f32, crate::search::Confidence)> {
        let searcher = match self.index.get() {
            Some(searcher) => searcher.clone(),
            None => {
                let view = self.clone();
                match tokio::task::spawn_blocking(move || view.searcher().clone()).await {
                    Ok(searcher) => searcher,
                    Err(e) => {
                        tracing::error!(error = %e, "tool search: building a view's index failed");
                        return Vec::new();
                    }
                }
            }
        };
        let vectors = match searcher.semantic() {
            true => crate::search::QueryVectors::compute(query).await,
            false => None,
        };
        // What its agents called after searches of these words: every candidate is
        // ranked, then moved by it (a namespace that learned nothing of them: as searched).
        let boosts = self
            .learning
            .as_ref()
            .map(|l| l.boosts(self.learned_as(), query))
            .unwrap_or_default();
        let asked = if boosts.is_empty() {
            limit
        } else {
            searcher.len()
        };
        let found = searcher
            .search(query, asked, vectors.as_ref())
            .into_iter()
            .filter_map(|h| self.tools.get(h.doc).map(|t| (t, h.score, h.confidence)));
        if boosts.is_empty() {
            return found.collect();
        }
        crate::search::learning::rerank(
            found.collect(),
            &boosts,
            |(t, _, _)| t.name.as_str(),
            |(_, score, _)| score,
            limit,
        )
    }

    /// The name its learning is kept under: its namespace's, or `""` for `/mcp`.
    pub fn learned_as(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
}

/// The searcher of `tools`, in order.
fn build_searcher(
    tools: &[Exposed],
    embeddings: Option<Arc<crate::search::semantic::Store>>,
) -> crate::search::Searcher {
    let docs: Vec<Arc<Doc>> = tools.iter().map(doc_of).collect();
    crate::search::Searcher::of_docs(&docs, embeddings)
}

/// A tool's search [`Doc`], made when a searcher first needs it and shared by every view
/// and table exposing the same entry (`entries.rs` carries it with the entry).
pub type DocCell = Arc<OnceLock<Made>>;

/// A [`Doc`] and what it was made with besides the entry.
pub struct Made {
    server: String,
    instructions: Option<Arc<str>>,
    doc: Arc<Doc>,
}

/// `t`'s [`Doc`]: the one made earlier for its entry, unless its server's name or
/// instructions have changed since.
fn doc_of(t: &Exposed) -> Arc<Doc> {
    let instructions = t.backend.instructions();
    if let Some(made) = t.doc.get()
        && made.server == t.backend.name
        && made.instructions == instructions
    {
        return made.doc.clone();
    }
    let entry: Value = crate::jsonrpc::read::value(&t.entry).unwrap_or(Value::Null);
    let fields = crate::search::fields_of(
        &entry,
        &t.backend.name,
        instructions.as_deref().unwrap_or(""),
    );
    let doc = Arc::new(Doc::of(&fields));
    let _ = t.doc.set(Made {
        server: t.backend.name.clone(),
        instructions,
        doc: doc.clone(),
    });
    doc
}
