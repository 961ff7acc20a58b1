//! The gateway as an OAuth 2.1 resource server: `METAMCP_PUBLIC_URL` and the
//! `METAMCP_OAUTH_*` variables, each issuer with its own scope mapping and limits.

use std::path::PathBuf;

use crate::model::limits::{self, Setting};

use super::values::{Collector, whole_number};
use super::{OAUTH_CA_FILE, OAUTH_ISSUER, OAUTH_JWKS_URL, OAUTH_SCOPES, PUBLIC_URL};

/// The gateway as an OAuth 2.1 resource server.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuth {
    /// Without a trailing slash.
    pub public_url: String,
    pub issuers: Vec<Issuer>,
    /// Extra trusted certificates (PEM) for `https://` issuers.
    pub ca_file: Option<PathBuf>,
}

/// One accepted authorization server and how its tokens' scopes map to ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuer {
    /// Exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Else discovered from the issuer's metadata.
    pub jwks_url: Option<String>,
    /// The token scope that makes an admin.
    pub admin_scope: String,
    /// The token scope that makes a client; empty: every token of the issuer is a
    /// client's, scope or none (an authorization server that issues no scopes).
    pub client_scope: String,
    /// A claim naming the namespaces the caller may use (else: any, within the resource).
    pub namespaces_claim: Option<String>,
    /// The limits each identity of this issuer gets (the process defaults fill in the
    /// rest), as a key's.
    pub limits: crate::model::limits::KeyLimits,
    /// Whose limits they are: each subject's (default), or each client's (every user of
    /// one client application shares them).
    pub limit_by_client: bool,
    /// Whether a token whose `aud` lists other audiences besides this resource is
    /// accepted (`audience=includes`); by default (`audience=exact`) it is refused, so a
    /// token good for other services cannot be replayed here.
    pub audience_includes: bool,
}

impl OAuth {
    /// The resource a request to `/mcp` (`None`) or `/mcp/<ns>` is for.
    pub fn resource(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!("{}/mcp/{ns}", self.public_url),
            None => format!("{}/mcp", self.public_url),
        }
    }

    /// Its Protected Resource Metadata URL (RFC 9728: the well-known prefix before the
    /// resource's path).
    pub fn metadata_url(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) => format!(
                "{}/.well-known/oauth-protected-resource/mcp/{ns}",
                self.public_url
            ),
            None => format!(
                "{}/.well-known/oauth-protected-resource/mcp",
                self.public_url
            ),
        }
    }
}

/// An `https://` (or `http://`) URL with a host, checked.
pub(super) fn oauth_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let uri: hyper::Uri = s.parse().map_err(|_| format!("{s:?} is not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(s.to_string()),
        _ => Err(format!("{s:?} must be an https:// (or http://) URL")),
    }
}

/// `key=value` words (space or comma separated) over `base`.
pub(super) fn scope_mapping(base: &Issuer, words: &str) -> Result<Issuer, String> {
    let mut i = base.clone();
    for word in words.split([' ', ',']).filter(|w| !w.is_empty()) {
        let (k, v) = word
            .split_once('=')
            .ok_or_else(|| format!("{word:?}: expected key=value"))?;
        // `client=` (empty): a token needs no scope to be a client, for authorization
        // servers that issue none.
        if v.is_empty() && k != "client" {
            return Err(format!("{k}: empty value"));
        }
        match k {
            "admin" => i.admin_scope = v.to_string(),
            "client" => i.client_scope = v.to_string(),
            "namespaces" => i.namespaces_claim = Some(v.to_string()),
            "jwks" => i.jwks_url = Some(oauth_url(v)?),
            "rate" => i.limits.rate = limits::parse_rate_setting(v)?,
            "burst" => {
                let n = whole_number(v, 1_000_000_000)?;
                i.limits.burst = Some(u32::try_from(n).map_err(|_| "burst: too large")?);
            }
            "concurrency" => {
                i.limits.max_concurrent = match limits::parse_count_setting(v, 1_000_000)? {
                    Setting::Is(n) => Setting::Is(u32::try_from(n).unwrap_or(u32::MAX)),
                    Setting::Unlimited => Setting::Unlimited,
                    Setting::Default => Setting::Default,
                }
            }
            "daily" => i.limits.daily_calls = limits::parse_count_setting(v, 1_000_000_000_000)?,
            "limit_by" => {
                i.limit_by_client = match v {
                    "sub" => false,
                    "client_id" => true,
                    _ => return Err(format!("limit_by={v}: expected sub or client_id")),
                }
            }
            "audience" => {
                i.audience_includes = match v {
                    "exact" => false,
                    "includes" => true,
                    _ => return Err(format!("audience={v}: expected exact or includes")),
                }
            }
            _ => {
                return Err(format!(
                    "{k:?}: expected admin, client, namespaces, jwks, rate, burst, \
                     concurrency, daily, limit_by or audience"
                ));
            }
        }
    }
    Ok(i)
}

/// A file of PEM certificates to trust (`key`'s value), checked: it must hold one.
pub(super) fn ca_file_from(
    key: &str,
    raw: Option<String>,
    errs: &mut Collector,
) -> Option<PathBuf> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let f = PathBuf::from(raw.filter(|s| !s.trim().is_empty())?);
    let certs = CertificateDer::pem_file_iter(&f)
        .map_err(|e| format!("{}: {e}", f.display()))
        .and_then(|it| {
            it.collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("{}: {e}", f.display()))
        });
    match certs {
        Ok(c) if c.is_empty() => {
            errs.push(key, format!("{}: no PEM certificate in it", f.display()))
        }
        Ok(_) => {}
        Err(e) => errs.push(key, e),
    }
    Some(f)
}

/// The raw `METAMCP_OAUTH_*` settings and the public URL.
#[derive(Default)]
pub(super) struct OAuthRaw {
    pub(super) public: Option<String>,
    pub(super) issuers: Option<String>,
    pub(super) jwks: Option<String>,
    pub(super) scopes: Option<String>,
    pub(super) ca_file: Option<String>,
}

pub(super) fn oauth_from(raw: OAuthRaw, errs: &mut Collector) -> Option<OAuth> {
    let OAuthRaw {
        public,
        issuers,
        jwks,
        scopes,
        ca_file,
    } = raw;
    let ca_file = ca_file_from(OAUTH_CA_FILE, ca_file, errs);
    let issuers = issuers.filter(|s| !s.trim().is_empty())?;
    let base = Issuer {
        issuer: String::new(),
        jwks_url: None,
        admin_scope: "mcp:admin".into(),
        client_scope: "mcp:use".into(),
        namespaces_claim: None,
        limits: limits::KeyLimits::default(),
        limit_by_client: false,
        audience_includes: false,
    };
    let base = match scopes {
        Some(s) => errs.check(OAUTH_SCOPES, scope_mapping(&base, &s))?,
        None => base,
    };
    let mut list = Vec::new();
    for item in issuers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (url, words) = item.split_once(' ').unwrap_or((item, ""));
        let Some(url) = errs.check(OAUTH_ISSUER, oauth_url(url)) else {
            continue;
        };
        if let Some(mut i) = errs.check(OAUTH_ISSUER, scope_mapping(&base, words)) {
            i.issuer = url;
            list.push(i);
        }
    }
    if let Some(j) = jwks.filter(|s| !s.trim().is_empty()) {
        match list.as_mut_slice() {
            [only] => only.jwks_url = errs.check(OAUTH_JWKS_URL, oauth_url(&j)),
            _ => errs.push(
                OAUTH_JWKS_URL,
                "only with one issuer (give each issuer its own jwks= in METAMCP_OAUTH_ISSUER)",
            ),
        }
    }
    let Some(public) = public.filter(|s| !s.trim().is_empty()) else {
        errs.push(
            PUBLIC_URL,
            "required with METAMCP_OAUTH_ISSUER: tokens must name this gateway as their audience",
        );
        return None;
    };
    let public = match public_url_of(Some(&public)) {
        Some(Ok(p)) => p,
        _ => {
            errs.push(PUBLIC_URL, format!("{public:?} must be an http(s):// URL"));
            return None;
        }
    };
    Some(OAuth {
        public_url: public,
        issuers: list,
        ca_file,
    })
}

/// `METAMCP_PUBLIC_URL` checked and without its trailing slash (`None` when unset or
/// blank).
pub(super) fn public_url_of(raw: Option<&str>) -> Option<Result<String, String>> {
    let public = raw.map(str::trim).filter(|s| !s.is_empty())?;
    let public = public.trim_end_matches('/');
    let ok = public
        .parse::<hyper::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    Some(if ok {
        Ok(public.to_string())
    } else {
        Err(format!("{public:?} must be an http(s):// URL"))
    })
}
