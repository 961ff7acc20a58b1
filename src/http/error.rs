//! The API error: each variant knows whose fault it is through its status, and maps to
//! `{"error", "code", "status"}` with the headers that status calls for. Lower layers'
//! errors (authentication, database) are mapped here, in one place.

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

use crate::auth::AuthError;
use crate::http::{Body, json_value};

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
    /// A key over one of its limits (rate, concurrency, daily quota, a tool's rate).
    #[error("{message}; retry in {retry_after} s")]
    OverLimit { message: String, retry_after: u64 },
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
            ApiError::RateLimited { .. } | ApiError::OverLimit { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
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
            ApiError::RateLimited { .. } | ApiError::OverLimit { .. } => "rate_limited",
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
            ApiError::RateLimited { retry_after } | ApiError::OverLimit { retry_after, .. } => {
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

/// The gateway's "over a limit" for a session client and for a 2026-07-28 one.
pub const LIMITED_CODES: (i64, i64) = (-32029, -31029);

impl ApiError {
    /// The same refusal for an MCP endpoint: its status and headers (the challenge, a
    /// retry time), with a JSON-RPC error as the body (`id` null: the request was not
    /// read), whose `data` carries the REST fields, and `retryAfterMs` over a limit.
    /// The codes are a session client's ([`ApiError::into_rpc_response_in`]).
    pub fn into_rpc_response(self) -> Response<Body> {
        self.into_rpc_response_in(false)
    }

    /// [`ApiError::into_rpc_response`] for a client of its era: a 2026-07-28 client
    /// (`stateless`) gets the gateway's codes outside `-32768..-32000` (the table is
    /// `mcp::wire::codes`, above this room, whose test holds [`LIMITED_CODES`] to it).
    pub fn into_rpc_response_in(self, stateless: bool) -> Response<Body> {
        // JSON-RPC's invalid request and internal error, and the gateway's "over a limit".
        const INVALID_REQUEST: i64 = -32600;
        const INTERNAL: i64 = -32603;
        let retry_after = match &self {
            ApiError::RateLimited { retry_after } | ApiError::OverLimit { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        };
        let rpc = match &self {
            _ if retry_after.is_some() => match stateless {
                false => LIMITED_CODES.0,
                true => LIMITED_CODES.1,
            },
            e if e.status().is_server_error() => INTERNAL,
            _ => INVALID_REQUEST,
        };
        let (status, code) = (self.status(), self.code());
        let mut data = serde_json::json!({"code": code, "status": status.as_u16()});
        if let Some(secs) = retry_after {
            data["retryAfterMs"] = secs.saturating_mul(1000).into();
        }
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": rpc,
                "message": self.to_string(),
                "data": data,
            },
        });
        let rest = self.into_response();
        let mut resp = json_value(status, &body);
        for (name, value) in rest.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                resp.headers_mut().insert(name.clone(), value.clone());
            }
        }
        resp
    }
}

impl From<crate::store::db::DbError> for ApiError {
    /// By whose fault: a value the database refused is the client's (400), a lost
    /// database an outage (503), anything else the gateway's own (500). Monitoring
    /// reading 503 as "the database is down" is never told so by a typo.
    fn from(e: crate::store::db::DbError) -> Self {
        use crate::store::db::DbFault;
        match e.fault() {
            DbFault::Data => ApiError::BadRequest {
                field: None,
                message: format!("the database refused a value of the request: {e}"),
            },
            DbFault::Unavailable => ApiError::Unavailable(format!("database unavailable: {e}")),
            DbFault::Internal => ApiError::Internal(format!("database: {e}")),
        }
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

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => ApiError::Unauthorized {
                message: e.to_string(),
                presented: false,
            },
            AuthError::Invalid { .. } => ApiError::Unauthorized {
                message: e.to_string(),
                presented: true,
            },
            AuthError::RateLimited { retry_after } => ApiError::RateLimited { retry_after },
            AuthError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}
