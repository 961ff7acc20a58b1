//! Control-plane handlers, one file per resource: [`system`] (health, readiness, metrics,
//! the OpenAPI document, tokens, events), [`servers`], [`namespaces`], [`accounts`]
//! (upstream OAuth and secrets), [`audit`] (the call log, usage), [`registry`] (MCP
//! registries: search, install, upgrade). [`dispatch`] is the
//! table from a route (`http::routes`) to its handler.

mod accounts;
mod audit;
mod namespaces;
mod policies;
mod ready;
mod registry;
mod reviews;
mod servers;
mod skills;
mod system;
mod tools;
mod upstream;

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::http::routes::{Params, RouteId};
use crate::http::{ApiError, Body, empty, is_json, json, json_value, read_body};
use crate::model::validate::Invalid;
use crate::model::{Namespace, Server};
use crate::observe::metrics::PoolFigures;
use crate::state::State;
use crate::store::registry::StoreError;

/// One REST call, as every handler takes it.
pub(crate) struct Call<'a> {
    state: &'a Arc<State>,
    params: Params<'a>,
    req: Request<Incoming>,
    principal: Option<Principal>,
    peer: IpAddr,
}

/// The caller of a route that needs one (the router has checked there is one).
fn who(principal: &Option<Principal>) -> Result<Principal, ApiError> {
    principal
        .clone()
        .ok_or_else(|| ApiError::Internal("route needs a principal".into()))
}

/// Registry failures as HTTP: whose fault each is decides the status.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => ApiError::from(e),
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(Invalid { field, message }) => {
                ApiError::BadRequest { field, message }
            }
            StoreError::Corrupt(m) => ApiError::Internal(m),
        }
    }
}

/// Runs the handler for `route`; the caller has already authenticated and authorised.
pub async fn dispatch(
    state: &Arc<State>,
    route: RouteId,
    params: Params<'_>,
    req: Request<Incoming>,
    principal: Option<Principal>,
    peer: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let c = Call {
        state,
        params,
        req,
        principal,
        peer,
    };
    match route {
        RouteId::Health => system::health(c).await,
        RouteId::Ready => system::ready(c).await,
        RouteId::Metrics => system::metrics(c).await,
        RouteId::OpenApi => system::open_api(c).await,
        RouteId::ResourceMetadata => system::resource_metadata(c).await,
        RouteId::SwaggerUi => system::swagger_ui(c).await,
        RouteId::Token => system::token(c).await,
        RouteId::ListServers => servers::list_servers(c).await,
        RouteId::ImportServers => servers::import_servers(c).await,
        RouteId::ExportServers => servers::export_servers(c).await,
        RouteId::GetServer => servers::get_server(c).await,
        RouteId::CreateServer => servers::create_server(c).await,
        RouteId::UpdateServer => servers::update_server(c).await,
        RouteId::DeleteServer => servers::delete_server(c).await,
        RouteId::RestartServer => servers::restart_server(c).await,
        RouteId::ListNamespaces => namespaces::list_namespaces(c).await,
        RouteId::GetNamespace => namespaces::get_namespace(c).await,
        RouteId::CreateNamespace => namespaces::create_namespace(c).await,
        RouteId::UpdateNamespace => namespaces::update_namespace(c).await,
        RouteId::DeleteNamespace => namespaces::delete_namespace(c).await,
        RouteId::AuthorizeServer => accounts::authorize_server(c).await,
        RouteId::OAuthCallback => accounts::oauth_callback(c).await,
        RouteId::Connections => accounts::connections(c).await,
        RouteId::Connection => accounts::connection(c).await,
        RouteId::Connect => accounts::connect(c).await,
        RouteId::SetSecret => accounts::set_secret(c).await,
        RouteId::SecretPage => accounts::secret_page(c).await,
        RouteId::SecretSave => accounts::secret_save(c).await,
        RouteId::Disconnect => accounts::disconnect(c).await,
        RouteId::ClientMetadata => accounts::client_metadata(c).await,
        RouteId::ServerTools => servers::server_tools(c).await,
        RouteId::ExecuteTool => servers::execute_tool(c).await,
        RouteId::Audit => audit::audit(c).await,
        RouteId::Usage => audit::usage(c).await,
        RouteId::GetKey => audit::key(c).await,
        RouteId::SearchTools => tools::search_tools(c).await,
        RouteId::Reviews => reviews::list(c).await,
        RouteId::ApproveReview => reviews::decide(c, true).await,
        RouteId::RejectReview => reviews::decide(c, false).await,
        RouteId::PolicyLanguage => policies::language(c).await,
        RouteId::ListPolicies => policies::list(c).await,
        RouteId::CreatePolicy => policies::create(c).await,
        RouteId::CheckPolicy => policies::check(c).await,
        RouteId::SimulatePolicy => policies::simulate(c).await,
        RouteId::GetPolicy => policies::get(c).await,
        RouteId::UpdatePolicy => policies::update(c).await,
        RouteId::DeletePolicy => policies::delete(c).await,
        RouteId::ListSkills => skills::list_skills(c).await,
        RouteId::RegistrySearch => registry::search(c).await,
        RouteId::RegistryInstall => registry::install(c).await,
        RouteId::RegistryUpgrade => registry::upgrade(c).await,
        RouteId::RegistryOutdated => registry::outdated(c).await,
        RouteId::Mcp | RouteId::McpNamespace => system::mcp(c).await,
        RouteId::Events => system::events(c).await,
    }
}

/// Audits a registry change made through the API by `principal`'s key.
fn changed(state: &State, principal: &Option<Principal>, what: &'static str, object: &str) {
    if let Some(p) = principal {
        state
            .observe
            .audit
            .record(crate::observe::audit::Entry::change(p.key_id, what, object));
    }
}

/// A query string's pairs, percent-decoded (`+` is a space); a pair that does not decode
/// to UTF-8 is a bad request.
fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    use crate::vault::form::decode;
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match (decode(k), decode(v)) {
                (Some(k), Some(v)) => Ok((k, v)),
                _ => Err(ApiError::bad_field(
                    "query",
                    format!("cannot decode the query parameter {p:?}"),
                )),
            }
        })
        .collect()
}

/// Makes a registry change visible in this process before answering (other processes
/// follow through NOTIFY).
async fn applied(state: &State) {
    if let Err(e) = state.reload_registry().await {
        tracing::warn!(error = %e, "registry reload after a change failed; NOTIFY will retry");
    }
}

/// The body of a request that must say it is JSON, unparsed.
async fn json_bytes(state: &State, req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let (parts, body) = req.into_parts();
    if !is_json(&parts.headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    read_body(body, &parts.headers, &state.config).await
}

async fn json_body(state: &State, req: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes = json_bytes(state, req).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest {
        field: None,
        message: format!("the request body is not valid JSON: {e}"),
    })
}
