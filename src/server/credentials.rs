//! The access token a request to an MCP endpoint carries, and its scheme: a `Bearer`
//! token, or one bound to a key (RFC 9449) whose `DPoP` proof is checked here against the
//! request ([`crate::auth::dpop`]) and spent across replicas
//! ([`crate::store::dpop_proofs`]); and the challenge a client without a good one gets.

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response};

use crate::http::{ApiError, Body};
use crate::state::State;

/// How an access token is presented.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Bearer,
    /// RFC 9449 §7.1: with a proof in the `DPoP` header.
    Dpop,
}

/// The access token of `Authorization` and its scheme, if that is what the request
/// carries.
pub(super) fn bearer(headers: &hyper::HeaderMap) -> Option<(&str, Scheme)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    Some((token.trim(), scheme)).filter(|(t, _)| !t.is_empty())
}

/// A token bound to a key (or presented as one): the request's DPoP proof checked
/// against it and spent across replicas, else the 401 with the `DPoP` challenge.
pub(super) async fn proved(
    state: &State,
    o: &crate::auth::oauth::OAuth,
    req: &Request<Incoming>,
    namespace: Option<&str>,
    id: &crate::auth::oauth::Identity,
    scheme: Scheme,
) -> Result<(), Response<Body>> {
    use crate::auth::dpop;
    let refuse = |error: &str, why: &str| {
        let mut resp = ApiError::Unauthorized {
            message: format!("the DPoP-bound access token was refused: {why}"),
            presented: true,
        }
        .into_rpc_response();
        let metadata = o.settings.metadata_url(namespace);
        if let Ok(v) = HeaderValue::from_str(&dpop::challenge(error, why, &metadata)) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    };
    let Some(jkt) = id.jkt.as_deref() else {
        return Err(refuse("invalid_token", "the token is not bound to a key"));
    };
    if scheme != Scheme::Dpop {
        return Err(refuse(
            "invalid_token",
            "a bound token goes with the DPoP scheme",
        ));
    }
    let proofs: Vec<&str> = req
        .headers()
        .get_all("dpop")
        .iter()
        .take(2)
        .map(|v| v.to_str().unwrap_or_default())
        .collect();
    let url = format!(
        "{}{}",
        o.settings.public_url.trim_end_matches('/'),
        req.uri().path()
    );
    let now = crate::base::unix_now();
    let proof = dpop::check(&dpop::Request {
        proofs: &proofs,
        method: req.method().as_str(),
        url: &url,
        token: &id.token.0,
        jkt,
        now,
    })
    .map_err(|why| refuse("invalid_dpop_proof", why))?;
    let expires = proof.iat.max(now) + dpop::WINDOW_SECS;
    match crate::store::dpop_proofs::spend(&state.db.pool, jkt, &proof.jti, expires, now).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(refuse("invalid_dpop_proof", "the proof was used before")),
        Err(e) => {
            tracing::warn!(error = %e, "a DPoP proof could not be recorded");
            Err(refuse(
                "invalid_dpop_proof",
                "the proof could not be recorded; try again",
            ))
        }
    }
}

/// 401 (no token, or a bad one) or 403 (a token without the scope) with the
/// `WWW-Authenticate` challenge of MCP authorization: where the resource's metadata is
/// (RFC 9728) and the scope to ask for (none when the setting requires none). A token
/// presented with the `DPoP` scheme is answered with a `DPoP` challenge first (RFC 9449
/// §7.1: `algs` and `error`), then the `Bearer` one.
pub(super) fn challenged(
    o: &crate::auth::oauth::OAuth,
    namespace: Option<&str>,
    error: Option<&crate::auth::oauth::OAuthError>,
    scheme: Option<Scheme>,
) -> Response<Body> {
    use crate::auth::oauth::OAuthError;
    let scope = o
        .settings
        .issuers
        .first()
        .map_or("mcp:use", |i| i.client_scope.as_str());
    let scope = match scope {
        "" => String::new(),
        s => format!(", scope=\"{s}\""),
    };
    let metadata = o.settings.metadata_url(namespace);
    let (api_error, params) = match error {
        None => (
            ApiError::Unauthorized {
                message: crate::auth::AuthError::Missing.to_string(),
                presented: false,
            },
            format!("resource_metadata=\"{metadata}\"{scope}"),
        ),
        Some(e @ OAuthError::Invalid(reason)) => (
            ApiError::Unauthorized {
                message: e.to_string(),
                presented: true,
            },
            format!(
                "error=\"invalid_token\", error_description=\"{reason}\", \
                 resource_metadata=\"{metadata}\"{scope}"
            ),
        ),
        Some(e @ OAuthError::Insufficient(needed)) => (
            ApiError::Forbidden(e.to_string()),
            format!(
                "error=\"insufficient_scope\", scope=\"{needed}\", \
                 resource_metadata=\"{metadata}\""
            ),
        ),
    };
    let mut resp = api_error.into_rpc_response();
    let mut challenges = Vec::with_capacity(2);
    if scheme == Some(Scheme::Dpop) {
        let algs = crate::auth::dpop::ALGS;
        challenges.push(format!("DPoP algs=\"{algs}\", {params}"));
    }
    challenges.push(format!("Bearer {params}"));
    // These replace the API's own challenge.
    resp.headers_mut().remove(header::WWW_AUTHENTICATE);
    for c in challenges {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}
