//! Installing from a registry, upgrading an installed server, and listing those a newer
//! version waits for. Only an admin calls these (the REST routes are admin routes;
//! keyadm holds the database).
//!
//! An install reads the entry, plans the server ([`super::plan`]), checks where a
//! remote points (a loopback or private address only with `allow_private`, which the
//! admin gives explicitly; never a link-local or metadata address), and writes the
//! server, its source and its namespace membership in one transaction
//! ([`crate::store::registry::Registry::create_installed`]): nothing is half-installed.
//!
//! An upgrade replaces the server's launch (or URL) by the new version's, keeping the
//! values the admin gave (its environment and headers) for the names the new version
//! still takes, and marks the server's source `review`: the definitions the new
//! version offers that differ from the pinned ones are held until an admin approves
//! them, even under `tool_changes: accept` (`docs/guides/registry.md`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::base::Origin;
use crate::model::{Server, Source};
use crate::store::registry::Registry;
use crate::vault::net::{Zone, zone_of_url};

use super::plan::{Given, Plan, plan};
use super::{Client, RegistryError, registry_of};

/// An install request (`POST /api/v1/registry/install`, `keyadm registry add`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Install {
    /// The entry's name in the registry.
    pub name: String,
    pub version: Option<String>,
    /// The server's name (`as`); derived from the entry's name when `None`.
    pub server: Option<String>,
    pub namespace: Option<String>,
    pub registry: Option<String>,
    pub given: Given,
    /// Allow a remote at a loopback or private address.
    pub allow_private: bool,
}

fn string_map(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<BTreeMap<String, String>, RegistryError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) if m.len() <= 256 => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) if s.len() <= 16 << 10 => Ok((k.clone(), s.clone())),
                _ => Err(RegistryError::Invalid(
                    field,
                    format!("{field}.{k}: must be a string of at most 16 KiB"),
                )),
            })
            .collect(),
        Some(_) => Err(RegistryError::Invalid(
            field,
            format!("{field}: must be an object of at most 256 strings"),
        )),
    }
}

fn text(obj: &Map<String, Value>, field: &'static str) -> Result<Option<String>, RegistryError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 1024 => Ok(Some(s.clone())),
        Some(_) => Err(RegistryError::Invalid(
            field,
            format!("{field}: must be a string of 1 to 1024 bytes"),
        )),
    }
}

fn switch(obj: &Map<String, Value>, field: &'static str) -> Result<bool, RegistryError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(RegistryError::Invalid(
            field,
            format!("{field}: must be true or false"),
        )),
    }
}

const INSTALL_FIELDS: &[&str] = &[
    "name",
    "version",
    "as",
    "namespace",
    "registry",
    "env",
    "arguments",
    "headers",
    "force",
    "allow_private",
];

impl Install {
    /// Reads `{"name", "version"?, "as"?, "namespace"?, "registry"?, "env"?,
    /// "arguments"?, "headers"?, "force"?, "allow_private"?}`.
    pub fn from_json(body: &Value) -> Result<Install, RegistryError> {
        let obj = body.as_object().ok_or_else(|| {
            RegistryError::Invalid("body", "the body must be a JSON object".into())
        })?;
        if let Some(k) = obj.keys().find(|k| !INSTALL_FIELDS.contains(&k.as_str())) {
            return Err(RegistryError::Invalid(
                "body",
                format!("unknown field {k:?}"),
            ));
        }
        Ok(Install {
            name: text(obj, "name")?.ok_or_else(|| {
                RegistryError::Invalid("name", "name: the entry's name is required".into())
            })?,
            version: text(obj, "version")?,
            server: text(obj, "as")?,
            namespace: text(obj, "namespace")?,
            registry: text(obj, "registry")?,
            given: given_of(obj)?,
            allow_private: switch(obj, "allow_private")?,
        })
    }
}

fn given_of(obj: &Map<String, Value>) -> Result<Given, RegistryError> {
    Ok(Given {
        env: string_map(obj, "env")?,
        arguments: string_map(obj, "arguments")?,
        headers: string_map(obj, "headers")?,
        force: switch(obj, "force")?,
        ..Given::default()
    })
}

/// An upgrade request (`POST /api/v1/registry/upgrade`, `keyadm registry upgrade`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Upgrade {
    pub server: String,
    pub version: Option<String>,
    pub given: Given,
    pub allow_private: bool,
    /// The admin's approval of a version whose remote is at another origin: that origin
    /// (`scheme://host:port`, as the held answer gives it).
    pub approve_origin: Option<String>,
    /// With `approve_origin`: the headers the admin gave for the old origin go to the
    /// new one too (by default they do not: the entry then asks for them again).
    pub keep_headers: bool,
}

impl Upgrade {
    /// Reads `{"server", "version"?, "env"?, "arguments"?, "headers"?, "force"?,
    /// "allow_private"?, "approve_origin"?, "keep_headers"?}`.
    pub fn from_json(body: &Value) -> Result<Upgrade, RegistryError> {
        let obj = body.as_object().ok_or_else(|| {
            RegistryError::Invalid("body", "the body must be a JSON object".into())
        })?;
        const FIELDS: &[&str] = &[
            "server",
            "version",
            "env",
            "arguments",
            "headers",
            "force",
            "allow_private",
            "approve_origin",
            "keep_headers",
        ];
        if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(RegistryError::Invalid(
                "body",
                format!("unknown field {k:?}"),
            ));
        }
        Ok(Upgrade {
            server: text(obj, "server")?.ok_or_else(|| {
                RegistryError::Invalid("server", "server: the server to upgrade is required".into())
            })?,
            version: text(obj, "version")?,
            given: given_of(obj)?,
            allow_private: switch(obj, "allow_private")?,
            approve_origin: text(obj, "approve_origin")?,
            keep_headers: switch(obj, "keep_headers")?,
        })
    }
}

/// What an upgrade did.
#[derive(Debug)]
pub enum Upgraded {
    /// Applied (its changed definitions held for review): the server, and the version
    /// it had.
    Done(Server, String),
    /// Held whole, nothing changed: the new version's remote is at another origin than
    /// the server's, and no admin approved that origin yet. The server as it is, the
    /// version waiting, the origin it would move to, and why it waits.
    Held {
        server: Server,
        version: String,
        origin: String,
        reason: String,
    },
}

/// A server name from an entry's (`io.github.acme/weather-mcp` → `weather-mcp`).
pub fn server_name_of(entry: &str) -> String {
    let last = entry.rsplit('/').next().unwrap_or(entry);
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    name.truncate(32);
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        "server".into()
    } else {
        name
    }
}

/// Refuses a remote whose address is not one the admin allowed; `keyadm` is the keyadm
/// command that allows it (`registry add --allow-private`, or the upgrade's).
async fn check_remote(plan: &Plan, allow_private: bool, keyadm: &str) -> Result<(), RegistryError> {
    let Some(url) = &plan.remote_url else {
        return Ok(());
    };
    let refused = |m: String| RegistryError::Plan(super::plan::PlanError::Refused(m));
    // The URL as filled from the install's values: a template variable may have given
    // its scheme and host.
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(refused(format!(
            "the entry's remote {url:?} is not an http:// or https:// URL"
        )));
    }
    let zone = zone_of_url(url)
        .await
        .map_err(|e| refused(format!("the entry's remote {url}: {e}")))?;
    if zone != Zone::Public && !allow_private {
        return Err(refused(format!(
            "the entry's remote {url} is at a {} address: install it only if you mean to, \
             with \"allow_private\": true ({keyadm})",
            if zone == Zone::Loopback {
                "loopback"
            } else {
                "private"
            }
        )));
    }
    if zone == Zone::Public && !url.starts_with("https://") {
        return Err(refused(format!(
            "the entry's remote {url} is plain http:// to a public address"
        )));
    }
    Ok(())
}

/// Refuses a package whose runner (`npx`, `uvx`, `docker`, `dnx`) is not on this
/// process's `PATH`, which the gateway's stdio servers inherit: installed, it would fail
/// to start and be restarted in a loop. `force` installs it all the same (the runner is
/// to be installed later).
fn check_runner(plan: &Plan, force: bool) -> Result<(), RegistryError> {
    let Some(runner) = plan.body["command"].as_str() else {
        return Ok(());
    };
    if force || plan.remote_url.is_some() || on_path(runner) {
        return Ok(());
    }
    let fix = match runner {
        "npx" => "install Node.js, which brings npx (Debian: apt-get install npm)",
        "uvx" => "install uv, which brings uvx (pip install uv)",
        "docker" => "install Docker (Debian: apt-get install docker.io) for the gateway's user",
        "dnx" => "install the .NET 10 SDK, which brings dnx",
        _ => "install it",
    };
    Err(RegistryError::Plan(super::plan::PlanError::Refused(
        format!(
            "the entry runs {runner}, which is not on PATH here, so the server could never \
         start: {fix} where the gateway runs and install again, or install it anyway with \
         \"force\": true (--force); nothing was installed"
        ),
    )))
}

/// Whether an executable file `name` is in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Installs an entry: the created server, with its source, and the entry's
/// post-install instructions for the admin (`postInstallInstructions`).
pub async fn install(
    client: &Client,
    store: &Registry,
    default_registry: &str,
    req: &Install,
) -> Result<(Server, Option<String>), RegistryError> {
    let registry = registry_of(req.registry.as_deref(), default_registry)?;
    let entry = client
        .entry(&registry, &req.name, req.version.as_deref())
        .await?;
    let plan = plan(&entry, &req.given)?;
    check_runner(&plan, req.given.force)?;
    check_remote(
        &plan,
        req.allow_private,
        "keyadm registry add --allow-private",
    )
    .await?;
    let mut body = plan.body.clone();
    body["name"] = json!(
        req.server
            .clone()
            .unwrap_or_else(|| server_name_of(&entry.name))
    );
    let source = Source {
        registry,
        name: entry.name.clone(),
        version: entry.version.clone(),
        review: false,
        allow_private: req.allow_private,
    };
    let server = store
        .create_installed(&body, &source, req.namespace.as_deref())
        .await?;
    Ok((server, plan.post_install))
}

/// Upgrades an installed server to `version` (the latest when `None`). A version whose
/// remote is at another origin (scheme, host, port) than the server's URL is held whole
/// ([`Upgraded::Held`]: the server keeps its version and URL, nothing is sent to the new
/// origin) until the request approves that very origin; the headers the admin gave for
/// the old origin follow only with `keep_headers`.
pub async fn upgrade(
    client: &Client,
    store: &Registry,
    req: &Upgrade,
) -> Result<Upgraded, RegistryError> {
    let existing = store.get_server(&req.server).await?;
    let Some(source) = existing.source.clone() else {
        return Err(RegistryError::Invalid(
            "server",
            format!("server {} was not installed from a registry", existing.name),
        ));
    };
    let entry = client
        .entry(&source.registry, &source.name, req.version.as_deref())
        .await?;
    if entry.version == source.version {
        return Err(RegistryError::Invalid(
            "version",
            format!(
                "server {} is at {} {} already",
                existing.name, source.name, source.version
            ),
        ));
    }
    let mut given = req.given.clone();
    given.kept_env = existing.env.clone();
    given.kept_headers = existing.headers.clone();
    let mut planned = plan(&entry, &given)?;
    check_runner(&planned, given.force)?;
    // An install the admin allowed a private address keeps that for its upgrades.
    let allow_private = req.allow_private || source.allow_private;
    check_remote(
        &planned,
        allow_private,
        &format!("keyadm registry upgrade {} --allow-private", existing.name),
    )
    .await?;
    if let Some(to) = moved_to(existing.url.as_deref(), planned.remote_url.as_deref()) {
        let approved = req.approve_origin.as_deref().map(Origin::of);
        match approved {
            None => {
                let reason = format!(
                    "{} {} moves the server's remote to {to} (from {}): an upgrade to \
                     another origin waits for an admin's approval, and the headers given \
                     for the old origin do not follow it unless the approval says so. \
                     Approve it with \"approve_origin\": \"{to}\" (keyadm registry \
                     upgrade {} --approve-origin {to}), giving the headers the new origin \
                     needs, or \"keep_headers\": true (--keep-headers) to send the old \
                     ones there",
                    entry.name,
                    entry.version,
                    existing
                        .url
                        .as_deref()
                        .and_then(Origin::of)
                        .map_or_else(|| "a command it runs".to_string(), |o| o.to_string()),
                    existing.name,
                );
                return Ok(Upgraded::Held {
                    server: existing,
                    version: entry.version,
                    origin: to.to_string(),
                    reason,
                });
            }
            Some(Some(a)) if a == to => {
                if !req.keep_headers {
                    given.kept_headers.clear();
                    planned = plan(&entry, &given)?;
                }
            }
            Some(_) => {
                return Err(RegistryError::Invalid(
                    "approve_origin",
                    format!(
                        "approve_origin: {} {} moves the remote to {to}, not to {}: \
                         approve the origin it moves to, or leave the server where it is",
                        entry.name,
                        entry.version,
                        req.approve_origin.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
    }
    let next = Source {
        version: entry.version.clone(),
        review: true,
        allow_private,
        ..source.clone()
    };
    let server = store
        .upgrade_installed(existing.id, &planned.body, &next)
        .await?;
    Ok(Upgraded::Done(server, source.version))
}

/// The origin a planned remote moves the server to: `None` when it stays at the origin
/// of the server's URL (or the plan runs a command, reaching no origin).
fn moved_to(url: Option<&str>, planned: Option<&str>) -> Option<Origin> {
    let to = Origin::of(planned?)?;
    (url.and_then(Origin::of).as_ref() != Some(&to)).then_some(to)
}

/// An installed server whose registry has a newer version (or which its registry no
/// longer lists as active).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outdated {
    pub server: String,
    pub name: String,
    pub registry: String,
    pub installed: String,
    /// The registry's latest version; `null` when the registry could not say.
    pub latest: Option<String>,
    pub status: Option<String>,
    /// Why the registry could not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every installed server whose registry's latest version differs from its own, or
/// whose registry could not be asked (each with its reason; one registry's failure
/// does not hide the others).
pub async fn outdated(client: &Client, store: &Registry) -> Result<Vec<Outdated>, RegistryError> {
    let mut out = Vec::new();
    for s in store.list_servers().await? {
        let Some(source) = s.source else { continue };
        let row =
            |latest: Option<String>, status: Option<String>, error: Option<String>| Outdated {
                server: s.name.clone(),
                name: source.name.clone(),
                registry: source.registry.clone(),
                installed: source.version.clone(),
                latest,
                status,
                error,
            };
        match client.entry(&source.registry, &source.name, None).await {
            Ok(e) if e.version != source.version || e.status != super::entry::Status::Active => {
                out.push(row(Some(e.version), Some(e.status.as_str().into()), None))
            }
            Ok(_) => {}
            Err(e) => out.push(row(None, None, Some(e.to_string()))),
        }
    }
    Ok(out)
}
