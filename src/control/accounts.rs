//! Upstream accounts (per-caller OAuth and secrets): authorizing a server, the OAuth
//! callback, a caller's connections, connecting and disconnecting, secrets, and the
//! client metadata document. The work is in [`super::upstream`].

use super::*;

pub(super) async fn authorize_server(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        req,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let resp = upstream::authorize(state, param(), &req, principal.as_ref()).await?;
    changed(state, &principal, "server.authorize", param());
    Ok(resp)
}

pub(super) async fn oauth_callback(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    Ok(upstream::callback(state, &req).await)
}

pub(super) async fn connections(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        req,
        principal,
        ..
    } = c;
    let q = query_pairs(req.uri().query())?;
    upstream::connections(state, &who(&principal)?, &q).await
}

pub(super) async fn connection(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let q = [("server".to_string(), param().to_string())];
    upstream::connections(state, &who(&principal)?, &q).await
}

pub(super) async fn connect(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    upstream::connect(state, &who(&principal)?, param()).await
}

pub(super) async fn set_secret(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        req,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let p = who(&principal)?;
    let body = json_body(state, req).await?;
    upstream::set_secret(state, &p, param(), &body).await
}

pub(super) async fn secret_page(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    Ok(upstream::secret_page(state, &req).await)
}

pub(super) async fn secret_save(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, req, .. } = c;
    Ok(upstream::secret_save(state, req).await)
}

pub(super) async fn disconnect(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call {
        state,
        params,
        req,
        principal,
        ..
    } = c;
    let param = || params.get(0).unwrap_or_default();
    let q = query_pairs(req.uri().query())?;
    upstream::disconnect(state, &who(&principal)?, param(), &q).await
}

pub(super) async fn client_metadata(c: Call<'_>) -> Result<Response<Body>, ApiError> {
    let Call { state, .. } = c;
    upstream::client_metadata(state)
}
