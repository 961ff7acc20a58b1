//! The backend's question to a 2026-07-28 client (one `inputRequests` entry), as the
//! hop reads it off a backend's request or its -32042 answer: what the answer stream
//! holds back (`held`), what the parked call waits on (`rounds`), what the consent asks.

use bytes::Bytes;

use crate::jsonrpc::frame::{self, Frame};
use crate::jsonrpc::methods::Method;

/// Questions one round holds at most; a backend asking more at once has the rest refused.
pub const MAX_ASKS: usize = 64;
/// Longest `inputRequests` key taken from a backend.
const MAX_KEY: usize = 64;
/// The `_meta` member a session-era backend may name its question with.
pub const INPUT_KEY: &str = "io.metamcp/inputKey";

/// One question of the backend's, waiting for the client's answer.
#[derive(Debug, Clone)]
pub struct Ask {
    /// Its `inputRequests` key.
    pub key: String,
    /// The backend's own id (raw JSON).
    pub id: Bytes,
    pub method: Method,
    /// Its `params` (raw JSON object), `{}` when it had none.
    pub params: Bytes,
    /// The capability it needs, when the client's request did not declare it.
    pub undeclared: Option<&'static str>,
}

impl Ask {
    /// The question in a backend's request, keyed by the name the backend gave it in
    /// `_meta["io.metamcp/inputKey"]`, else by its id; `None` for other requests.
    pub(in crate::mcp) fn of(data: &[u8], f: &Frame, earlier: &[Ask]) -> Option<Ask> {
        let method = f.kind.filter(|m| m.asks_client())?;
        let id = Bytes::copy_from_slice(f.id?.of(data));
        let params = f
            .params
            .and_then(|s| frame::container_span(data, s.start))
            .map_or(Bytes::from_static(b"{}"), |s| {
                Bytes::copy_from_slice(s.of(data))
            });
        let parsed = serde_json::from_slice::<serde_json::Value>(&params).ok();
        let named = parsed
            .as_ref()
            .and_then(|p| p["_meta"][INPUT_KEY].as_str().map(str::to_string))
            .filter(|k| key_like(k));
        // A URL-mode question has no `elicitationId` in the 2026 revision.
        let params = match parsed {
            Some(mut p) if p["mode"] == "url" && p.get("elicitationId").is_some() => {
                if let Some(o) = p.as_object_mut() {
                    o.remove("elicitationId");
                }
                Bytes::from(p.to_string())
            }
            _ => params,
        };
        let plain = String::from_utf8_lossy(&id).trim_matches('"').to_string();
        let taken = |k: &str| earlier.iter().any(|a| a.key == k);
        let key = match named {
            Some(k) if !taken(&k) => k,
            _ if key_like(&plain) && !taken(&plain) => plain,
            _ => format!("input-{}", earlier.len() + 1),
        };
        Some(Ask {
            key,
            id,
            method,
            params,
            undeclared: None,
        })
    }
}

/// The URL questions of a backend's -32042 answer (URL elicitation required), as a 2026
/// client gets them: `elicitation/create` in URL mode without the `elicitationId` (the
/// revision has none), keyed by that id when it is a plain word. `None` for anything
/// else. `data` is an SSE event or a JSON message.
pub fn url_asks(data: &[u8]) -> Option<Vec<Ask>> {
    let message = if data.first() == Some(&b'{') {
        data.to_vec()
    } else {
        crate::jsonrpc::sse::data_of(data).pop()?
    };
    let v: serde_json::Value = serde_json::from_slice(&message).ok()?;
    if v.get("method").is_some() || v["error"]["code"].as_i64() != Some(-32042) {
        return None;
    }
    let mut asks: Vec<Ask> = Vec::new();
    for e in v["error"]["data"]["elicitations"]
        .as_array()?
        .iter()
        .take(MAX_ASKS)
    {
        let url = e["url"].as_str()?;
        let id = e["elicitationId"].as_str().unwrap_or_default();
        let key = if key_like(id) && !asks.iter().any(|a| a.key == id) {
            id.to_string()
        } else {
            format!("url-{}", asks.len() + 1)
        };
        let params = serde_json::json!({
            "mode": "url",
            "url": url,
            "message": e["message"].as_str().unwrap_or("Open this page to continue"),
        });
        asks.push(Ask {
            key,
            id: Bytes::new(),
            method: Method::ElicitationCreate,
            params: Bytes::from(params.to_string()),
            undeclared: None,
        });
    }
    (!asks.is_empty()).then_some(asks)
}

fn key_like(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= MAX_KEY
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}
