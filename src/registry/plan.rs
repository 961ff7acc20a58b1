//! From a registry entry and an admin's install request to the server to register: the
//! entry's remote when it has one (Streamable HTTP before SSE), else its first package
//! the gateway knows how to run, with the runner its registry type needs (npm `npx -y
//! name@version`, PyPI `uvx name==version`, OCI `docker run -i --rm image:tag`, NuGet
//! `dnx name@version --yes --`), its arguments as argv (never through a shell), its
//! environment variables and headers from the request, the entry's fixed values and
//! its defaults.
//!
//! Every value the entry asks for and nobody gives is collected, so a refusal names
//! them all at once. Whatever would reach a command line, from the entry or from the
//! admin, is checked: a package name or version shaped for its registry, argument
//! names shaped as flags, values that start no flag and carry no shell syntax or blank.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::entry::{Argument, Entry, Input, Package, Remote, Status};

/// A value the entry needs and the request did not give: `kind` is `env`, `header` or
/// `argument` (a URL's or a value's `{placeholder}` too), `name` what to give it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub kind: &'static str,
    pub name: String,
}

/// Why an entry is not installed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The entry or the request is refused as it stands (status, injection, a runner
    /// the gateway does not offer).
    #[error("{0}")]
    Refused(String),
    #[error("the entry needs {}: give them in the request's env, arguments or headers", names(.0))]
    Missing(Vec<Missing>),
}

fn names(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| format!("{} {}", m.kind, m.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the admin gives at install.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Given {
    pub env: BTreeMap<String, String>,
    pub arguments: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    /// Install a `deleted` or `deprecated` entry all the same.
    pub force: bool,
    /// An upgrade: the values the server holds already, used for the names the new
    /// version still takes (after a value the entry fixes, before its default).
    pub kept_env: BTreeMap<String, String>,
    pub kept_headers: BTreeMap<String, String>,
}

/// The server to register: a `POST /api/v1/mcp/servers` body (without its name), and
/// for a remote the URL whose address the installer still checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub body: Value,
    pub remote_url: Option<String>,
    /// The entry's `postInstallInstructions` for what is installed (the remote's or the
    /// package's, else the entry's own), for the admin to read.
    pub post_install: Option<String>,
}

/// Plans the install of `entry`.
pub fn plan(entry: &Entry, given: &Given) -> Result<Plan, PlanError> {
    if entry.status != Status::Active && !given.force {
        return Err(PlanError::Refused(format!(
            "{} {} is {} in its registry: install it anyway with \"force\": true \
             (keyadm registry add --force)",
            entry.name,
            entry.version,
            entry.status.as_str()
        )));
    }
    let remote = ["streamable-http", "sse"]
        .iter()
        .find_map(|kind| entry.remotes.iter().find(|r| r.kind == *kind));
    let mut p = Planner {
        given,
        missing: Vec::new(),
        used: Used::default(),
    };
    let mut plan = match remote {
        Some(r) => p.remote(r)?,
        None => {
            let package = entry
                .packages
                .iter()
                .find(|k| runner(k).is_some() && k.transport == "stdio")
                .ok_or_else(|| no_package(entry))?;
            p.package(package, &entry.version)?
        }
    };
    plan.post_install = plan
        .post_install
        .take()
        .or_else(|| entry.post_install.clone());
    if !p.missing.is_empty() {
        return Err(PlanError::Missing(p.missing));
    }
    p.used.unknown(given)?;
    Ok(plan)
}

fn no_package(entry: &Entry) -> PlanError {
    let offered: Vec<String> = entry
        .remotes
        .iter()
        .map(|r| format!("remote {}", r.kind))
        .chain(
            entry
                .packages
                .iter()
                .map(|k| format!("{} package over {}", k.registry_type, k.transport)),
        )
        .collect();
    PlanError::Refused(format!(
        "{} offers nothing the gateway can install (a streamable-http or sse remote, or an \
         npm, pypi, oci or nuget package over stdio){}",
        entry.name,
        if offered.is_empty() {
            String::new()
        } else {
            format!(": it offers {}", offered.join(", "))
        }
    ))
}

/// The runner of a registry type.
fn runner(p: &Package) -> Option<&'static str> {
    match p.registry_type.as_str() {
        "npm" => Some("npx"),
        "pypi" => Some("uvx"),
        "oci" => Some("docker"),
        "nuget" => Some("dnx"),
        _ => None,
    }
}

/// The names the request's maps were read by, to refuse one the entry does not know.
#[derive(Default)]
struct Used {
    env: Vec<String>,
    arguments: Vec<String>,
    headers: Vec<String>,
}

impl Used {
    fn unknown(&self, given: &Given) -> Result<(), PlanError> {
        let mut unknown = Vec::new();
        for (kind, map, used) in [
            ("env", &given.env, &self.env),
            ("arguments", &given.arguments, &self.arguments),
            ("headers", &given.headers, &self.headers),
        ] {
            for k in map.keys().filter(|k| !used.contains(k)) {
                unknown.push(format!("{kind}.{k}"));
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        Err(PlanError::Refused(format!(
            "the entry takes no {}",
            unknown.join(", ")
        )))
    }
}

struct Planner<'a> {
    given: &'a Given,
    missing: Vec<Missing>,
    used: Used,
}

impl Planner<'_> {
    /// The value of an input: given, else fixed (its `{placeholders}` filled), else its
    /// default; `None` (and noted when required) without any. What the entry wrote is
    /// kept literal in an environment variable or header (`$` written `$$`): a
    /// `${VAR}` there would otherwise be expanded from the gateway's own environment
    /// when the server starts ([`crate::model::refs`]) and handed to the registry's
    /// package or remote. The admin's own values keep their references.
    fn value(&mut self, kind: &'static str, input: &Input) -> Result<Option<String>, PlanError> {
        let expands = matches!(kind, "env" | "header");
        Ok(self
            .sourced(kind, input)?
            .map(|(v, admins)| if expands && !admins { literal(&v) } else { v }))
    }

    /// An input's value and whether it is the admin's (given now, or held by the server
    /// an upgrade replaces) or prepared here already; `false`: the entry's default.
    fn sourced(
        &mut self,
        kind: &'static str,
        input: &Input,
    ) -> Result<Option<(String, bool)>, PlanError> {
        let all: &Given = self.given;
        let given = match kind {
            "env" => &all.env,
            "header" => &all.headers,
            _ => &all.arguments,
        };
        if let Some(v) = given.get(&input.name).filter(|_| !input.name.is_empty()) {
            match kind {
                "env" => &mut self.used.env,
                "header" => &mut self.used.headers,
                _ => &mut self.used.arguments,
            }
            .push(input.name.clone());
            if !input.choices.is_empty() && !input.choices.contains(v) {
                // A secret's value is never repeated back.
                let shown = if input.secret {
                    "the value".into()
                } else {
                    format!("{v:?}")
                };
                return Err(PlanError::Refused(format!(
                    "{kind} {}: {shown} is not one of {}",
                    input.name,
                    input.choices.join(", ")
                )));
            }
            return Ok(Some((v.clone(), true)));
        }
        if let Some(fixed) = &input.value {
            let expands = matches!(kind, "env" | "header");
            return Ok(Some((self.fill(fixed, &input.variables, expands)?, true)));
        }
        let kept = match kind {
            "env" => all.kept_env.get(&input.name),
            "header" => all.kept_headers.get(&input.name),
            _ => None,
        };
        if let Some(v) = kept {
            return Ok(Some((v.clone(), true)));
        }
        if let Some(d) = &input.default {
            return Ok(Some((d.clone(), false)));
        }
        if input.required {
            self.missing.push(Missing {
                kind,
                name: if input.name.is_empty() {
                    "(unnamed)".into()
                } else {
                    input.name.clone()
                },
            });
        }
        Ok(None)
    }

    /// `template` with each `{name}` replaced by its variable's value; a placeholder
    /// without a variable is left as it is (it may be the value's own text). With
    /// `expands` (an environment variable's or header's value), the entry's text is
    /// made literal and the admin's values are not.
    fn fill(
        &mut self,
        template: &str,
        variables: &[Input],
        expands: bool,
    ) -> Result<String, PlanError> {
        let mut out = if expands {
            literal(template)
        } else {
            template.to_string()
        };
        for var in variables {
            let placeholder = format!("{{{}}}", var.name);
            if !out.contains(&placeholder) {
                continue;
            }
            let v = match self.sourced("argument", var)? {
                Some((v, false)) if expands => literal(&v),
                Some((v, _)) => v,
                None => String::new(),
            };
            out = out.replace(&placeholder, &v);
        }
        Ok(out)
    }

    fn remote(&mut self, r: &Remote) -> Result<Plan, PlanError> {
        let url = self.fill(&r.url, &r.variables, false)?;
        let mut headers = serde_json::Map::new();
        for h in &r.headers {
            if !is_token(&h.name) {
                return Err(PlanError::Refused(format!(
                    "header name {:?} is not an HTTP token",
                    h.name
                )));
            }
            if let Some(v) = self.value("header", h)? {
                if v.bytes().any(|b| b.is_ascii_control()) {
                    return Err(PlanError::Refused(format!(
                        "header {}: control characters",
                        h.name
                    )));
                }
                headers.insert(h.name.clone(), Value::String(v));
            }
        }
        let protocol = if r.kind == "sse" { "sse" } else { "http" };
        Ok(Plan {
            body: json!({"protocol": protocol, "url": url, "headers": headers,
                         "command": null, "args": null, "env": null}),
            remote_url: Some(url),
            post_install: r.post_install.clone(),
        })
    }

    fn package(&mut self, p: &Package, entry_version: &str) -> Result<Plan, PlanError> {
        let version = p.version.as_deref().unwrap_or(entry_version);
        check_identifier(&p.registry_type, &p.identifier)?;
        check_version(version)?;
        let mut env = serde_json::Map::new();
        for e in &p.env {
            if !is_env_name(&e.name) {
                return Err(PlanError::Refused(format!(
                    "{:?} is not an environment variable name",
                    e.name
                )));
            }
            if let Some(v) = self.value("env", e)? {
                if v.contains('\0') {
                    return Err(PlanError::Refused(format!("env {}: a NUL byte", e.name)));
                }
                env.insert(e.name.clone(), Value::String(v));
            }
        }
        let (command, mut args) = match p.registry_type.as_str() {
            "npm" => (
                "npx",
                vec!["-y".into(), format!("{}@{version}", p.identifier)],
            ),
            "pypi" => ("uvx", vec![format!("{}=={version}", p.identifier)]),
            "nuget" => (
                "dnx",
                vec![
                    format!("{}@{version}", p.identifier),
                    "--yes".into(),
                    "--".into(),
                ],
            ),
            _ => {
                let mut a = vec!["run".to_string(), "-i".into(), "--rm".into()];
                a.extend(self.docker_env(p, &env)?);
                a.push(image(&p.identifier, version));
                ("docker", a)
            }
        };
        if p.registry_type != "oci" && !p.runtime_arguments.is_empty() {
            return Err(PlanError::Refused(format!(
                "{} asks for runtime arguments to {}: the gateway passes none to it; \
                 register the server by hand (POST /api/v1/mcp/servers) if you trust them",
                p.identifier,
                runner(p).unwrap_or("its runner")
            )));
        }
        args.extend(self.arguments(&p.package_arguments)?);
        Ok(Plan {
            body: json!({"protocol": "stdio", "command": command, "args": args, "env": env,
                         "url": null, "headers": null}),
            remote_url: None,
            post_install: p.post_install.clone(),
        })
    }

    /// `docker run`'s `-e NAME` for each variable (docker passes its own value on), and
    /// the entry's runtime arguments, of which only `-e`/`--env NAME=VALUE` are passed:
    /// others could mount the host or widen the container's privileges.
    fn docker_env(
        &mut self,
        p: &Package,
        env: &serde_json::Map<String, Value>,
    ) -> Result<Vec<String>, PlanError> {
        let mut out = Vec::new();
        for name in env.keys() {
            out.extend(["-e".to_string(), name.clone()]);
        }
        for a in &p.runtime_arguments {
            if !(a.named && matches!(a.input.name.as_str(), "-e" | "--env")) {
                return Err(PlanError::Refused(format!(
                    "{} asks docker for the runtime argument {:?}: the gateway passes only \
                     -e NAME=VALUE; register the server by hand (POST /api/v1/mcp/servers) \
                     if you trust it",
                    p.identifier, a.input.name
                )));
            }
            let Some(v) = self.value("argument", &a.input)? else {
                continue;
            };
            let ok = v.split_once('=').is_some_and(|(k, _)| is_env_name(k));
            if !ok || !is_safe_value(&v) {
                return Err(PlanError::Refused(format!(
                    "runtime argument -e {v:?} is not NAME=VALUE without blanks or shell syntax"
                )));
            }
            out.extend(["-e".to_string(), v]);
        }
        Ok(out)
    }

    fn arguments(&mut self, list: &[Argument]) -> Result<Vec<String>, PlanError> {
        let mut out = Vec::new();
        for a in list {
            if a.named && !is_flag(&a.input.name) {
                return Err(PlanError::Refused(format!(
                    "argument name {:?} is not a flag (-x or --name)",
                    a.input.name
                )));
            }
            let value = self.value("argument", &a.input)?;
            if let Some(v) = &value
                && !is_safe_value(v)
            {
                return Err(PlanError::Refused(format!(
                    "argument {}: {v:?} starts a flag, or holds a blank or shell syntax",
                    if a.input.name.is_empty() {
                        "(positional)"
                    } else {
                        &a.input.name
                    }
                )));
            }
            match (a.named, value) {
                (true, Some(v)) => out.extend([a.input.name.clone(), v]),
                // A named argument without a value is a switch, given when required.
                (true, None) if a.input.required => {}
                (false, Some(v)) => out.push(v),
                _ => {}
            }
        }
        Ok(out)
    }
}

/// `v` as a literal value of an environment variable or header: every `$` doubled, so no
/// `${VAR}` of it is expanded.
fn literal(v: &str) -> String {
    v.replace('$', "$$")
}

/// An OCI image reference with its tag: the identifier's own tag or digest when it has
/// one, else the version.
fn image(identifier: &str, version: &str) -> String {
    let last = identifier.rsplit('/').next().unwrap_or(identifier);
    if last.contains(':') || identifier.contains('@') {
        identifier.to_string()
    } else {
        format!("{identifier}:{version}")
    }
}

/// A package name as its registry spells them: npm `(@scope/)name`, PyPI and NuGet
/// names, an OCI reference `[host[:port]/]path[:tag|@digest]`; never a flag.
pub fn check_identifier(registry_type: &str, id: &str) -> Result<(), PlanError> {
    let bytes_ok = |extra: &[u8]| {
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
    };
    let first_ok = id
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || (registry_type == "npm" && b == b'@'));
    let ok = !id.is_empty()
        && id.len() <= 214
        && first_ok
        && match registry_type {
            "npm" => {
                bytes_ok(b"-._~@/")
                    && id.matches('/').count() <= 1
                    && (id.starts_with('@') == id.contains('/'))
                    && !id[1..].contains('@')
            }
            "pypi" | "nuget" => bytes_ok(b"-._"),
            "oci" => bytes_ok(b"-._/:@") && !id.contains("//"),
            _ => false,
        };
    if ok {
        Ok(())
    } else {
        Err(PlanError::Refused(format!(
            "{id:?} is not a {registry_type} package name the gateway will run"
        )))
    }
}

/// A version: `[A-Za-z0-9][A-Za-z0-9.+_-]*`, up to 128 bytes (no range, no flag).
pub fn check_version(v: &str) -> Result<(), PlanError> {
    let ok = (1..=128).contains(&v.len())
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PlanError::Refused(format!(
            "{v:?} is not a version the gateway will run"
        )))
    }
}

fn is_env_name(k: &str) -> bool {
    k.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && k.len() <= 128
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_token(k: &str) -> bool {
    (1..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `-x` or `--name` (`[A-Za-z0-9][A-Za-z0-9_.-]*` after the dashes); not `--` alone.
fn is_flag(k: &str) -> bool {
    let rest = k.strip_prefix("--").or_else(|| k.strip_prefix('-'));
    rest.is_some_and(|r| {
        r.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && r.len() <= 64
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    })
}

/// A value for a command line: no leading `-`, no blank or control character, none of
/// the shell's `;|&$` `` ` `` `<>` (argv reaches no shell, but a runner might).
fn is_safe_value(v: &str) -> bool {
    !v.starts_with('-')
        && v.len() <= 4096
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ";|&$`<>".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_that_would_inject_are_refused() {
        for ok in ["@modelcontextprotocol/server-everything", "mcp-server-time"] {
            assert!(check_identifier("npm", ok).is_ok(), "{ok}");
        }
        assert!(check_identifier("oci", "ghcr.io/acme/mcp:1.2").is_ok());
        assert!(check_identifier("pypi", "mcp-server-time").is_ok());
        for bad in [
            "-e", "--help", "a;rm", "a b", "$(id)", "a@1", "@x", "a/b", "@a/b/c",
        ] {
            assert!(check_identifier("npm", bad).is_err(), "{bad}");
        }
        assert!(check_identifier("pypi", "x==1").is_err());
        assert!(check_identifier("mcpb", "x").is_err());
        for bad in ["--help", "-1", "1 2", "1;x", "^1.2", ""] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
        assert!(check_version("1.0.0-beta.1+b7").is_ok());
        assert!(is_flag("--host") && is_flag("-p") && !is_flag("--") && !is_flag("--a=b"));
        assert!(is_safe_value("type=bind,src=/a") && !is_safe_value("$(id)"));
        assert!(!is_safe_value("--eval") && !is_safe_value("a b") && !is_safe_value("a;b"));
    }

    #[test]
    fn an_entrys_references_stay_literal_and_the_admins_do_not() {
        let read = |v: serde_json::Value| super::super::entry::read(&v).unwrap();
        let e = read(
            json!({"name": "a/b", "version": "1", "remotes": [{"type": "sse",
            "url": "https://example.com/sse",
            "headers": [{"name": "X-Leak", "value": "t=${GITHUB_TOKEN}-{v}",
                         "variables": {"v": {"default": "${HOME}"}}},
                        {"name": "X-Default", "default": "${AWS_SECRET_ACCESS_KEY}"},
                        {"name": "X-Mine", "isRequired": true}]}]}),
        );
        let given = Given {
            headers: [("X-Mine".to_string(), "${MY_TOKEN}".to_string())].into(),
            ..Given::default()
        };
        let p = plan(&e, &given).unwrap();
        assert_eq!(p.body["headers"]["X-Leak"], "t=$${GITHUB_TOKEN}-$${HOME}");
        assert_eq!(p.body["headers"]["X-Default"], "$${AWS_SECRET_ACCESS_KEY}");
        assert_eq!(p.body["headers"]["X-Mine"], "${MY_TOKEN}");
        for h in ["X-Leak", "X-Default"] {
            let v = p.body["headers"][h].as_str().unwrap();
            let expanded = crate::model::refs::expand(v, |_| Some("LEAKED".into())).unwrap();
            assert!(
                !expanded.contains("LEAKED") && expanded.contains("${"),
                "{h}: {expanded}"
            );
        }
        let e = read(
            json!({"name": "a/b", "version": "1", "packages": [{"registryType": "npm",
            "identifier": "b", "environmentVariables": [{"name": "K", "default": "${JWT}"}]}]}),
        );
        let p = plan(&e, &Given::default()).unwrap();
        assert_eq!(p.body["env"]["K"], "$${JWT}");
    }

    #[test]
    fn an_image_keeps_its_own_tag() {
        assert_eq!(image("mcp/time", "1.0"), "mcp/time:1.0");
        assert_eq!(
            image("localhost:5000/mcp/time", "1.0"),
            "localhost:5000/mcp/time:1.0"
        );
        assert_eq!(image("mcp/time:2", "1.0"), "mcp/time:2");
    }
}
