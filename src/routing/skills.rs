//! A view's skills (SEP-2640): every member's `skills/list` entries in one list, each
//! under a URI unique in the view, with its manifest rewritten alike so that a read of
//! any listed file reaches its owner under the owner's own URI.
//!
//! A skill is its `SKILL.md` URI; its name (the URI's last folder, equal to the
//! frontmatter's `name`) and everything but the URIs are passed on verbatim: the
//! frontmatter must stay identical to the file's, and the digests are the server's, for
//! the client to check against the bytes the server sends. So names are not prefixed:
//! URIs are. In a view that prefixes tools, `skill://<rest>` of server `S` is exposed as
//! `skill://S/<rest>` (the server becomes the first folder of the skill's path: its name,
//! the last, is untouched); under `tool_prefix: never` a URI is kept as the server gave
//! it unless a member registered earlier has it, and then it is prefixed the same way.
//! URIs of other schemes are kept (the first member to list one serves it).
//!
//! A skill is left out, and the view reports why, when its entry cannot be served
//! safely: no `…/SKILL.md` URI, a manifest naming a file outside the skill's folder (a
//! URI of another skill or server), or more files than the extension's limit. An
//! override `enabled: false` (keyed `<server>__<skill name>`, like a tool's, or by the
//! exposed URI) takes a skill out of the view: it is not listed and none of its files can
//! be read, whatever URI is guessed.
//!
//! A URI is resolved to a skill by its folder, and the rest of it is checked before it
//! is forwarded ([`super::skill_path`]): nothing that a server resolving paths could read
//! as outside the folder (a dot segment, however encoded, an encoded slash, a
//! backslash…) passes. A file read must then name a file the skill's manifest lists (any
//! file of the folder when the manifest is `"dynamic"`); a directory read, a folder
//! inside the skill.

use foldhash::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use uuid::Uuid;

use super::skill_path::{self, Refusal};
use super::{Listed, Problem, View};
use crate::backend::skills::{MAX_FILES, offers_skills};
use crate::backend::{Backend, Status};
use crate::model::Namespace;

const SCHEME: &str = "skill://";
const MANIFEST: &str = "SKILL.md";
/// The largest skill file the gateway forwards a read of, by its listed size: the
/// extension's limit for a whole skill (16 MiB).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One skill of a view.
#[derive(Clone)]
pub struct SkillRoute {
    /// The frontmatter's `name` (not renamed: see the module's header).
    pub name: String,
    pub description: String,
    /// Its `SKILL.md` URI as the view exposes it.
    pub uri: String,
    /// Its `SKILL.md` URI as its server gave it.
    pub own: String,
    pub backend: Arc<Backend>,
    /// The listing entry, URIs exposed, serialised once.
    pub entry: Bytes,
    /// The skill's folder as exposed and as its server has it (no trailing `/`).
    dir: String,
    own_dir: String,
    /// Its server serves `resources/directory/read`.
    pub directory_read: bool,
    /// Listed files (exposed URI) and their listed sizes.
    sizes: HashMap<String, u64>,
    /// The files its manifest lists (exposed URIs); `None`: a `"dynamic"` manifest.
    files: Option<HashSet<String>>,
}

impl Listed for SkillRoute {
    fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }
    fn entry(&self) -> &Bytes {
        &self.entry
    }
}

/// A URI of the view resolved to a skill: the skill and the owner's own URI.
pub struct Resolved<'a> {
    pub skill: &'a SkillRoute,
    pub own: String,
    /// The file's listed size, when the manifest lists it.
    pub size: Option<u64>,
}

/// What a request does with a skill's URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads (or subscribes to, or completes) a file: one the manifest lists.
    File,
    /// Lists a folder inside the skill.
    Folder,
}

/// The skills of one view.
#[derive(Default, Clone)]
pub struct Skills {
    pub listed: Vec<SkillRoute>,
    /// Exposed `SKILL.md` URI → index in `listed`.
    index: HashMap<String, usize>,
    /// Exposed folder → index in `listed`.
    dirs: HashMap<String, usize>,
    /// (server, its own folder) → index in `listed`.
    own_dirs: HashMap<(Uuid, String), usize>,
    /// Exposed folders of skills switched off, with the skill's name.
    disabled: HashMap<String, String>,
    /// A running member declares the extension.
    pub offered: bool,
    /// A running member offering skills declares `directoryRead`.
    pub directory_read: bool,
    /// Members offering skills (their `skill://` resources are the view's to name).
    members: HashSet<Uuid>,
}

/// The folder of a `SKILL.md` URI (without the trailing `/`).
fn folder(uri: &str) -> Option<&str> {
    let dir = uri.strip_suffix(MANIFEST)?.strip_suffix('/')?;
    (!dir.is_empty()).then_some(dir)
}

/// `uri` of `server`, prefixed: `skill://<server>/<rest>` (others unchanged).
fn prefixed(server: &str, uri: &str) -> String {
    match uri.strip_prefix(SCHEME) {
        Some(rest) => format!("{SCHEME}{server}/{rest}"),
        None => uri.to_string(),
    }
}

/// `uri` and each of its ancestors up to a `/`, longest first.
fn ancestors(uri: &str) -> impl Iterator<Item = &str> {
    std::iter::once(uri).chain(
        uri.char_indices()
            .rev()
            .filter(|(_, c)| *c == '/')
            .map(move |(i, _)| &uri[..i]),
    )
}

/// Why a member's skill entry cannot be served, or its parts.
fn vet(entry: &Value) -> Result<(&str, &str, &str), String> {
    let own = entry["uri"].as_str().ok_or("it has no uri")?;
    let own_dir =
        folder(own).ok_or_else(|| format!("its uri {own:?} does not end in /SKILL.md"))?;
    let name = entry["frontmatter"]["name"]
        .as_str()
        .ok_or_else(|| format!("{own:?} has no frontmatter name"))?;
    // The server's own folder: no dot segment, separator trick or look-alike either
    // (it is forwarded as it is, before a client's rest).
    if let Some((_, path)) = own_dir.split_once("://")
        && let Err(why) = skill_path::check(&format!("/{path}"))
    {
        return Err(format!(
            "its uri {own:?} could name another folder: {}",
            why.reason()
        ));
    }
    match &entry["resources"] {
        Value::String(s) if s == "dynamic" => {}
        Value::Array(files) => {
            if files.len() > MAX_FILES {
                return Err(format!(
                    "{own:?} lists {} files, over the limit of {MAX_FILES}",
                    files.len()
                ));
            }
            for f in files {
                let uri = f["uri"].as_str().unwrap_or_default();
                let Some(rest) = uri.strip_prefix(own_dir).filter(|r| r.starts_with('/')) else {
                    return Err(format!(
                        "{own:?} lists {uri:?}, which is outside the skill's folder"
                    ));
                };
                if let Err(why) = skill_path::check(rest) {
                    return Err(format!(
                        "{own:?} lists {uri:?}, which could be read as outside the skill's folder: {}",
                        why.reason()
                    ));
                }
            }
        }
        _ => return Err(format!("{own:?} has no resources")),
    }
    Ok((own, own_dir, name))
}

/// `entry` with its URIs under `own_dir` moved to `dir`.
fn rewritten(entry: &Value, own_dir: &str, dir: &str) -> Value {
    let mut out = entry.clone();
    let moved = |u: &str| format!("{dir}{}", &u[own_dir.len().min(u.len())..]);
    if let Some(u) = entry["uri"].as_str() {
        out["uri"] = Value::String(moved(u));
    }
    if let Some(files) = out["resources"].as_array_mut() {
        for f in files {
            if let Some(u) = f["uri"].as_str() {
                let new = moved(u);
                f["uri"] = Value::String(new);
            }
        }
    }
    out
}

/// The override switching off `server`'s skill `name` (exposed as `uri`), if any.
fn switched_off<'n>(
    ns: Option<&'n Namespace>,
    server: &str,
    name: &str,
    uri: &str,
    matched: &mut std::collections::HashSet<&'n str>,
) -> bool {
    let Some(ns) = ns else { return false };
    let key = format!("{server}__{name}");
    let Some((k, o)) = [key.as_str(), uri]
        .into_iter()
        .find_map(|k| ns.tools.get_key_value(k))
    else {
        return false;
    };
    matched.insert(k.as_str());
    !o.enabled
}

/// Adds the skills of the running `members` to `view`, oldest registration first.
pub(super) fn add<'n>(
    view: &mut View,
    members: &[&Arc<Backend>],
    ns: Option<&'n Namespace>,
    prefix: bool,
    matched: &mut std::collections::HashSet<&'n str>,
) {
    let mut by_age: Vec<&&Arc<Backend>> = members.iter().collect();
    by_age.sort_by_key(|b| (b.server.registered_us, b.id));
    let skills = &mut view.skills;
    for b in by_age.into_iter().filter(|b| b.status() == Status::Running) {
        let lists = b.lists();
        if !offers_skills(&lists.capabilities) {
            continue;
        }
        skills.offered = true;
        skills.members.insert(b.id);
        let directory_read = lists.capabilities["extensions"]
            [crate::backend::skills::SKILLS_EXTENSION]["directoryRead"]
            .as_bool()
            == Some(true);
        skills.directory_read |= directory_read;
        if let Some(p) = &lists.skills.problem {
            view.errors.push(Problem {
                servers: vec![b.name.clone()],
                message: format!("server {}: {p}", b.name),
            });
        }
        for entry in &lists.skills.skills {
            let (own, own_dir, name) = match vet(entry) {
                Ok(v) => v,
                Err(why) => {
                    view.errors.push(Problem {
                        servers: vec![b.name.clone()],
                        message: format!("a skill of server {} is left out: {why}", b.name),
                    });
                    continue;
                }
            };
            let mut dir = if prefix {
                prefixed(&b.name, own_dir)
            } else {
                own_dir.to_string()
            };
            if !prefix && skills.dirs.contains_key(&dir) {
                dir = prefixed(&b.name, own_dir);
            }
            let uri = format!("{dir}/{MANIFEST}");
            if skills.dirs.contains_key(&dir) || skills.disabled.contains_key(&dir) {
                let first = skills
                    .dirs
                    .get(&dir)
                    .map(|i| skills.listed[*i].backend.name.clone());
                view.errors.push(Problem {
                    servers: first.into_iter().chain([b.name.clone()]).collect(),
                    message: format!(
                        "skill {uri:?} is offered twice; the one from {} is hidden",
                        b.name
                    ),
                });
                continue;
            }
            if switched_off(ns, &b.name, name, &uri, matched) {
                skills.disabled.insert(dir, name.to_string());
                continue;
            }
            let exposed = rewritten(entry, own_dir, &dir);
            let sizes = exposed["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| Some((f["uri"].as_str()?.to_string(), f["size"].as_u64()?)))
                .collect();
            let files = exposed["resources"].as_array().map(|files| {
                files
                    .iter()
                    .filter_map(|f| f["uri"].as_str().map(str::to_string))
                    .collect()
            });
            let i = skills.listed.len();
            skills.index.insert(uri.clone(), i);
            skills.dirs.insert(dir.clone(), i);
            skills.own_dirs.insert((b.id, own_dir.to_string()), i);
            skills.listed.push(SkillRoute {
                name: name.to_string(),
                description: entry["frontmatter"]["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                uri,
                own: own.to_string(),
                backend: (*b).clone(),
                entry: Bytes::from(exposed.to_string()),
                dir,
                own_dir: own_dir.to_string(),
                directory_read,
                sizes,
                files,
            });
        }
    }
}

/// What becomes of a resource a member lists, or of its template.
pub(super) enum Naming {
    /// Not a skill's: as usual.
    Other,
    /// A file of a listed skill, under this URI.
    Exposed(String),
    /// A `skill://` URI of a member offering skills that no listed skill has (a skill
    /// switched off or left out): not offered.
    Hidden,
}

impl Skills {
    /// The listed skill whose `SKILL.md` is `uri` (exposed).
    pub fn get(&self, uri: &str) -> Option<&SkillRoute> {
        self.index.get(uri).map(|i| &self.listed[*i])
    }

    /// The skill whose folder holds `uri` (exposed): the skill's `SKILL.md`, a file in
    /// its folder, or the folder itself; `None` when no listed skill's folder is a
    /// prefix of it. Refused when the rest of `uri` could be read as outside the folder
    /// ([`skill_path::check`]), and, for `access` to a file, when it is not one the
    /// manifest lists.
    pub fn resolve(&self, uri: &str, access: Access) -> Result<Option<Resolved<'_>>, Refusal> {
        let Some((dir, i)) = ancestors(uri).find_map(|a| self.dirs.get_key_value(a)) else {
            return Ok(None);
        };
        let skill = &self.listed[*i];
        let rest = &uri[dir.len()..];
        skill_path::check(rest)?;
        if access == Access::File
            && uri != skill.uri
            && skill.files.as_ref().is_some_and(|f| !f.contains(uri))
        {
            return Err(Refusal::NotListed);
        }
        Ok(Some(Resolved {
            skill,
            own: format!("{}{rest}", skill.own_dir),
            size: skill.sizes.get(uri).copied(),
        }))
    }

    /// The name of the switched-off skill whose folder holds `uri`, if any.
    pub fn disabled(&self, uri: &str) -> Option<&str> {
        ancestors(uri).find_map(|a| self.disabled.get(a).map(String::as_str))
    }

    /// How `backend`'s resource or template `own` is offered in the view.
    pub(super) fn naming(&self, backend: Uuid, own: &str) -> Naming {
        if !self.members.contains(&backend) || !own.starts_with(SCHEME) {
            return Naming::Other;
        }
        let found = ancestors(own).find_map(|a| {
            self.own_dirs
                .get(&(backend, a.to_string()))
                .map(|i| (a.len(), &self.listed[*i]))
        });
        match found {
            Some((len, s)) => Naming::Exposed(format!("{}{}", s.dir, &own[len..])),
            None => Naming::Hidden,
        }
    }

    /// Adds what `other` lists that this does not (union views).
    pub(super) fn extend(&mut self, other: &Skills) {
        for s in &other.listed {
            if self.index.contains_key(&s.uri) {
                continue;
            }
            let i = self.listed.len();
            self.index.insert(s.uri.clone(), i);
            self.dirs.insert(s.dir.clone(), i);
            self.own_dirs.insert((s.backend.id, s.own_dir.clone()), i);
            self.listed.push(s.clone());
        }
        for (dir, name) in &other.disabled {
            if !self.dirs.contains_key(dir) {
                self.disabled
                    .entry(dir.clone())
                    .or_insert_with(|| name.clone());
            }
        }
        self.offered |= other.offered;
        self.directory_read |= other.directory_read;
        self.members.extend(other.members.iter().copied());
    }
}

/// The URIs of a member's answer moved from its own folder to the exposed one (a
/// `skills/get` entry, a directory's children); `None` when the answer names a URI
/// outside the skill's folder.
pub fn exposed_uri(skill: &SkillRoute, own: &str) -> Option<String> {
    if own == skill.own {
        return Some(skill.uri.clone());
    }
    let rest = own.strip_prefix(skill.own_dir.as_str())?;
    ((rest.is_empty() || rest.starts_with('/')) && skill_path::check(rest).is_ok())
        .then(|| format!("{}{rest}", skill.dir))
}

/// A member's `skills/get` entry for `skill`, its URIs exposed, or why it cannot be
/// served.
pub fn exposed_entry(skill: &SkillRoute, entry: &Value) -> Result<Value, String> {
    let (own, own_dir, _) = vet(entry)?;
    if own != skill.own {
        return Err(format!(
            "asked for {:?}, it answered with {own:?}",
            skill.own
        ));
    }
    Ok(rewritten(entry, own_dir, &skill.dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folders_and_prefixes() {
        assert_eq!(folder("skill://a/b/SKILL.md"), Some("skill://a/b"));
        assert_eq!(folder("skill://SKILL.md"), Some("skill:/"));
        assert_eq!(folder("skill://a/xSKILL.md"), None);
        assert_eq!(prefixed("s1", "skill://pdf"), "skill://s1/pdf");
        assert_eq!(prefixed("s1", "https://x/pdf"), "https://x/pdf");
        let a: Vec<&str> = ancestors("skill://s/p/f.md").collect();
        assert_eq!(a[0], "skill://s/p/f.md");
        assert_eq!(a[1], "skill://s/p");
        assert_eq!(a[2], "skill://s");
    }

    #[test]
    fn a_manifest_outside_its_folder_is_refused() {
        let ok = json!({"uri": "skill://pdf/SKILL.md", "frontmatter": {"name": "pdf"},
            "resources": [{"uri": "skill://pdf/SKILL.md"}, {"uri": "skill://pdf/a/b.md"}]});
        assert!(vet(&ok).is_ok());
        let sibling = json!({"uri": "skill://pdf/SKILL.md", "frontmatter": {"name": "pdf"},
            "resources": [{"uri": "skill://pdfx/SKILL.md"}]});
        assert!(vet(&sibling).unwrap_err().contains("outside"));
        let foreign = json!({"uri": "skill://pdf/SKILL.md", "frontmatter": {"name": "pdf"},
            "resources": [{"uri": "https://evil/pdf/x"}]});
        assert!(vet(&foreign).is_err());
        let many: Vec<Value> = (0..=MAX_FILES)
            .map(|i| json!({"uri": format!("skill://pdf/{i}")}))
            .collect();
        let big = json!({"uri": "skill://pdf/SKILL.md", "frontmatter": {"name": "pdf"},
            "resources": many});
        assert!(vet(&big).unwrap_err().contains("limit"));
        assert!(vet(&json!({"uri": "skill://pdf/README.md"})).is_err());
        let dynamic = json!({"uri": "skill://pdf/SKILL.md", "frontmatter": {"name": "pdf"},
            "resources": "dynamic"});
        assert!(vet(&dynamic).is_ok());
    }

    #[test]
    fn a_rewrite_moves_uris_and_keeps_digests() {
        let entry = json!({"uri": "skill://pdf/SKILL.md",
            "frontmatter": {"name": "pdf", "description": "d"},
            "resources": [{"uri": "skill://pdf/SKILL.md", "digest": "sha256:ab", "size": 3}]});
        let out = rewritten(&entry, "skill://pdf", "skill://s1/pdf");
        assert_eq!(out["uri"], "skill://s1/pdf/SKILL.md");
        assert_eq!(out["resources"][0]["uri"], "skill://s1/pdf/SKILL.md");
        assert_eq!(out["resources"][0]["digest"], "sha256:ab");
        assert_eq!(out["frontmatter"], entry["frontmatter"]);
    }
}
