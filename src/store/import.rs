//! Importing an `mcpServers` file ([`crate::model::import`]) into the registry: one
//! transaction, all or nothing, imports serialised by an advisory lock; idempotent (what
//! would not change is not written); servers it creates remember their source, so
//! `prune` removes only those a later file of the same source no longer names, and a
//! server it did not create (registered by hand, or by another source) is changed only
//! with `replace`.

use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::model::import::{Parsed, Problem, Renamed};
use crate::model::validate::{Invalid, NamespaceDraft, ServerDraft};
use crate::store::registry::{
    INSERT_SERVER, Registry, StoreError, UPDATE_SERVER, insert_namespace, load_namespaces,
    rewrite_members,
};

/// Advisory lock key of imports ("mcpimprt"): one import at a time across processes.
const IMPORT_LOCK: i64 = 0x6d63_7069_6d70_7274;

/// How to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Where the file came from (keyadm: the file's absolute path; REST: `api` unless
    /// `source=` says otherwise). Recorded on the servers the import creates.
    pub source: String,
    pub dry_run: bool,
    pub prune: bool,
    /// Also make this namespace hold exactly the imported servers.
    pub namespace: Option<String>,
    /// Let the file change servers it did not create (registered by hand, or by an
    /// import of another source); they become this source's. Without it such a change
    /// is a problem and nothing is written.
    pub replace: bool,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
    pub renamed: Vec<Renamed>,
    pub problems: Vec<Problem>,
    /// Members of the file the gateway does not use (left out, not an error).
    pub ignored: Vec<Problem>,
    /// `{"name", "action": "created|updated|unchanged"}` with `--namespace`.
    pub namespace: Option<Value>,
    pub dry_run: bool,
    pub source: String,
}

impl Report {
    /// Clears what would have been written: for a rejected import.
    pub fn nothing_written(&mut self) {
        self.created.clear();
        self.updated.clear();
        self.unchanged.clear();
        self.removed.clear();
        self.namespace = None;
    }

    /// Whether the import wrote (or would write) anything.
    pub fn changes(&self) -> bool {
        !(self.created.is_empty() && self.updated.is_empty() && self.removed.is_empty())
            || self
                .namespace
                .as_ref()
                .is_some_and(|n| n["action"] != "unchanged")
    }

    /// The audit trail's changes of an import that wrote: `(method, object)`, a server's
    /// `server.create|update|delete` and the namespace's `namespace.create|update`
    /// (REST and keyadm record the same rows). None for a dry run.
    pub fn audited(&self) -> Vec<(&'static str, &str)> {
        if self.dry_run {
            return Vec::new();
        }
        let mut out: Vec<(&'static str, &str)> = Vec::new();
        for (list, what) in [
            (&self.created, "server.create"),
            (&self.updated, "server.update"),
            (&self.removed, "server.delete"),
        ] {
            out.extend(list.iter().map(|n| (what, n.as_str())));
        }
        if let Some(ns) = &self.namespace {
            let what = match ns["action"].as_str() {
                Some("created") => Some("namespace.create"),
                Some("updated") => Some("namespace.update"),
                _ => None,
            };
            if let (Some(what), Some(name)) = (what, ns["name"].as_str()) {
                out.push((what, name));
            }
        }
        out
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file (or what it would make of the registry) has problems: all are listed.
    #[error("the file has {} problem(s); nothing was written", .0.problems.len())]
    Problems(Box<Report>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tokio_postgres::Error> for ImportError {
    fn from(e: tokio_postgres::Error) -> Self {
        ImportError::Store(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ImportError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ImportError::Store(e.into())
    }
}

/// A problem at an entry's field, from the registry's own validation.
fn at_field(entry_path: &str, e: &Invalid) -> Problem {
    let path = match &e.field {
        Some(f) => crate::model::import::member(entry_path, f),
        None => entry_path.to_string(),
    };
    Problem {
        path,
        message: e.message.clone(),
    }
}

/// The problem of an entry that would change `name`, a server this import's source did
/// not create (`made_by`: the source that did, `None` when registered by hand).
fn not_ours(entry_path: &str, name: &str, made_by: Option<String>) -> Problem {
    let origin = match made_by {
        None => "it was registered by hand".to_string(),
        Some(source) => format!("an import of another source ({source}) created it"),
    };
    Problem {
        path: entry_path.to_string(),
        message: format!(
            "a server named `{name}` exists and this import did not create it ({origin}): \
             the file would change it. Rename the entry, or import with --replace \
             (REST: replace=true) to let this file take it over"
        ),
    }
}

impl Registry {
    /// Imports a parsed file. Problems found against the registry (a masked secret with
    /// nothing stored to keep, a field the registry refuses) fail the whole import.
    pub async fn import(&self, file: &Parsed, opts: &Options) -> Result<Report, ImportError> {
        let mut report = Report {
            renamed: file.renamed.clone(),
            ignored: file.ignored.clone(),
            // The file's own problems, to which the readable entries' are added.
            problems: file.problems.clone(),
            dry_run: opts.dry_run,
            source: opts.source.clone(),
            ..Report::default()
        };
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IMPORT_LOCK])
            .await?;
        for entry in &file.entries {
            let existing = match self.find_server(&tx, &entry.name, true).await {
                Ok(s) => Some(s),
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            let mut draft = existing.as_ref().map(ServerDraft::from).unwrap_or_default();
            let mut body: Map<String, Value> = entry.body.clone();
            body.insert("name".into(), Value::String(entry.name.clone()));
            if let Err(e) = draft
                .apply(&body, existing.as_ref())
                .and_then(|()| draft.validate())
            {
                report.problems.push(at_field(&entry.path, &e));
                continue;
            }
            match existing {
                Some(old) if ServerDraft::from(&old).same_settings(&draft) => {
                    report.unchanged.push(old.name)
                }
                Some(old) => {
                    let row = tx
                        .query_one(
                            "SELECT import_source FROM mcp_servers WHERE id = $1",
                            &[&old.id],
                        )
                        .await?;
                    let made_by: Option<String> = row.try_get(0)?;
                    if made_by.as_deref() != Some(opts.source.as_str()) {
                        if !opts.replace {
                            report
                                .problems
                                .push(not_ours(&entry.path, &old.name, made_by));
                            continue;
                        }
                        tx.execute(
                            "UPDATE mcp_servers SET import_source = $2 WHERE id = $1",
                            &[&old.id, &opts.source],
                        )
                        .await?;
                    }
                    self.write_server(&tx, UPDATE_SERVER, old.id, &draft)
                        .await?;
                    report.updated.push(draft.name);
                }
                None => {
                    let id = Uuid::new_v4();
                    self.write_server(&tx, INSERT_SERVER, id, &draft).await?;
                    tx.execute(
                        "UPDATE mcp_servers SET import_source = $2 WHERE id = $1",
                        &[&id, &opts.source],
                    )
                    .await?;
                    report.created.push(draft.name);
                }
            }
        }
        if !report.problems.is_empty() {
            // Dropping the transaction rolls it back: the report says what happened,
            // which is nothing.
            report.nothing_written();
            return Err(ImportError::Problems(Box::new(report)));
        }
        let names: Vec<String> = file
            .entries
            .iter()
            .map(|e| e.name.to_ascii_lowercase())
            .collect();
        if opts.prune {
            let rows = tx
                .query(
                    "DELETE FROM mcp_servers
                     WHERE import_source = $1 AND NOT (lower(name) = ANY($2))
                     RETURNING name",
                    &[&opts.source, &names],
                )
                .await?;
            report.removed = rows.iter().map(|r| r.get(0)).collect();
            report.removed.sort();
        }
        if let Some(ns) = &opts.namespace {
            let names: Vec<String> = file.entries.iter().map(|e| e.name.clone()).collect();
            report.namespace = Some(self.import_namespace(&tx, ns, names).await?);
        }
        if opts.dry_run {
            return Ok(report);
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Makes `name` hold exactly `servers` (creating it if needed), inside the import's
    /// transaction; its other settings and overrides stay.
    async fn import_namespace(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        name: &str,
        servers: Vec<String>,
    ) -> Result<Value, ImportError> {
        let existing = load_namespaces(tx, Some(name)).await?.pop();
        let action = match &existing {
            Some(ns) if same_members(&ns.servers, &servers) => "unchanged",
            Some(_) => "updated",
            None => "created",
        };
        let mut draft = match &existing {
            Some(ns) => NamespaceDraft::from(ns),
            None => {
                let mut d = NamespaceDraft::default();
                d.apply(
                    &json!({"name": name})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                    true,
                )
                .map_err(|e| {
                    ImportError::Problems(Box::new(Report {
                        problems: vec![Problem {
                            path: "namespace".into(),
                            message: e.message,
                        }],
                        ..Report::default()
                    }))
                })?;
                d
            }
        };
        draft.servers = servers;
        match (action, existing.is_some()) {
            ("unchanged", _) => {}
            (_, true) => {
                tx.execute(
                    "UPDATE namespaces SET updated_at = now() WHERE name = $1",
                    &[&draft.name],
                )
                .await?;
                rewrite_members(tx, &draft).await?;
            }
            (_, false) => {
                insert_namespace(tx, &draft).await?;
            }
        }
        Ok(json!({"name": draft.name, "action": action}))
    }
}

fn same_members(a: &[String], b: &[String]) -> bool {
    let lower = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_lowercase()).collect();
        v.sort();
        v
    };
    lower(a) == lower(b)
}
