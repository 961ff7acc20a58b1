//! HTTP plumbing shared by every handler: the response body type, reading bounded request
//! bodies, JSON responses, and the API error type with its mapping to status codes.

pub mod openapi;
pub mod routes;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

/// Every response body the gateway sends.
pub enum Body {
    Empty,
    Full(Option<Bytes>),
    /// Chunks produced by a task (event streams); ends when the sender is dropped.
    Channel(mpsc::Receiver<Bytes>),
    /// A backend's answer streaming through (see `mcp::UpstreamBody`).
    Upstream(Box<crate::mcp::UpstreamBody>),
    /// A whole answer as the pieces it was spliced into, sent with its length.
    Pieces {
        parts: std::vec::IntoIter<Bytes>,
        left: u64,
    },
}

impl Body {
    pub fn full(bytes: impl Into<Bytes>) -> Body {
        Body::Full(Some(bytes.into()))
    }

    pub fn pieces(parts: Vec<Bytes>) -> Body {
        let left = parts.iter().map(|p| p.len() as u64).sum();
        Body::Pieces {
            parts: parts.into_iter(),
            left,
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    /// Only an upstream answer that breaks off fails, so the client sees a cut
    /// connection instead of a truncated message.
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Channel(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
            Body::Upstream(u) => Pin::new(u.as_mut()).poll_frame(cx),
            Body::Pieces { parts, left } => Poll::Ready(parts.next().map(|p| {
                *left -= p.len() as u64;
                Ok(Frame::data(p))
            })),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(b) => b.is_none(),
            Body::Channel(_) | Body::Upstream(_) => false,
            Body::Pieces { left, .. } => *left == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Channel(_) | Body::Upstream(_) => SizeHint::default(),
            Body::Pieces { left, .. } => SizeHint::with_exact(*left),
        }
    }
}

/// A JSON response with `status`.
pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Body::full(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Serialises `value` as a JSON response.
pub fn json_value(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    json(status, value.to_string())
}

pub fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = status;
    resp
}

/// Reads a whole request body within the configured size and time limits.
pub async fn read_body(
    body: Incoming,
    headers: &HeaderMap,
    config: &crate::config::Config,
) -> Result<Bytes, ApiError> {
    let (limit, timeout) = (config.max_body, config.body_timeout);
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let collect = async {
        let mut body = body;
        let mut buf = bytes::BytesMut::new();
        // Most bodies arrive in one frame: keep it without copying.
        let mut first: Option<Bytes> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::BadRequest {
                field: None,
                message: format!("could not read the request body: {e}"),
            })?;
            if let Ok(data) = frame.into_data() {
                let held = first.as_ref().map_or(0, Bytes::len);
                if held + buf.len() + data.len() > limit {
                    return Err(ApiError::PayloadTooLarge { limit });
                }
                match first.take() {
                    None if buf.is_empty() => first = Some(data),
                    Some(f) => {
                        buf.extend_from_slice(&f);
                        buf.extend_from_slice(&data);
                    }
                    None => buf.extend_from_slice(&data),
                }
            }
        }
        Ok(match first {
            Some(f) => f,
            None => buf.freeze(),
        })
    };
    // A body that arrived with its head needs no timer: try once before arming one.
    let mut collect = std::pin::pin!(collect);
    let first_try = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match collect.as_mut().poll(cx) {
            std::task::Poll::Ready(done) => Some(done),
            std::task::Poll::Pending => None,
        })
    })
    .await;
    match first_try {
        Some(done) => done,
        None => tokio::time::timeout(timeout, collect)
            .await
            .unwrap_or(Err(ApiError::Timeout)),
    }
}

/// Whether the request says its body is JSON (`application/json`, any parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Errors of the REST and control-plane routes. Each knows its status and machine code;
/// the message is for humans and never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed; allowed: {allow}")]
    MethodNotAllowed { allow: String },
    #[error("{message}")]
    Unauthorized {
        message: String,
        /// A credential was presented (and was bad), as opposed to none at all.
        presented: bool,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    BadRequest {
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("too many failed authentication attempts; retry in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("the request took too long to arrive")]
    Timeout,
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            field: Some(field.to_string()),
            message: format!("{field}: {}", message.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::BadRequest { .. } => "invalid_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Timeout => "request_timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// `{"error": …, "code": …, "status": …}` (plus `field` for validation errors), with
    /// the headers the status calls for.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut body = serde_json::json!({
            "error": self.to_string(),
            "code": self.code(),
            "status": status.as_u16(),
        });
        if let ApiError::BadRequest {
            field: Some(field), ..
        } = &self
        {
            body["field"] = serde_json::Value::String(field.clone());
        }
        let mut resp = json_value(status, &body);
        let h = resp.headers_mut();
        match &self {
            ApiError::Unauthorized { presented, .. } => {
                let v = if *presented {
                    "Bearer realm=\"metamcp\", error=\"invalid_token\""
                } else {
                    "Bearer realm=\"metamcp\""
                };
                h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
            }
            ApiError::Forbidden(_) => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(
                        "Bearer realm=\"metamcp\", error=\"insufficient_scope\"",
                    ),
                );
            }
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    h.insert(header::ALLOW, v);
                }
            }
            ApiError::RateLimited { retry_after } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::PayloadTooLarge { .. } | ApiError::Timeout => {
                // The unread rest of the body makes the connection unusable.
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}

impl From<crate::store::db::DbError> for ApiError {
    fn from(e: crate::store::db::DbError) -> Self {
        ApiError::Unavailable(format!("database unavailable: {e}"))
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApiError::from(crate::store::db::DbError::Query(e))
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::from(crate::store::db::DbError::Pool(e))
    }
}
