//! `subscriptions/listen` (2026-07-28): a stateless client's one stream of change
//! notifications.
//!
//! - The request names what it wants: `toolsListChanged`, `promptsListChanged`,
//!   `resourcesListChanged` (booleans) and `resourceSubscriptions` (URIs).
//! - The first message on the stream is `notifications/subscriptions/acknowledged`,
//!   naming the subset the gateway honours: every list kind asked for (the gateway
//!   knows when its lists change), and the URIs it could subscribe to upstream (an
//!   owner in the caller's view that offers `resources.subscribe`, within the
//!   subscription bounds).
//! - Every notification on it carries `_meta["io.modelcontextprotocol/subscriptionId"]`,
//!   the listen request's own JSON-RPC id (same type), and only kinds opted into are
//!   sent: no progress, no log messages.
//! - A graceful end (the gateway shutting down) is the request's response,
//!   `{"resultType": "complete"}` with the subscription id, then the stream closes.

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};
use hyper::StatusCode;
use serde_json::{Map, Value, json};

use crate::jsonrpc::frame::Frame;
use crate::jsonrpc::methods::Method;
use crate::mcp::wire::rpc::{RpcError, code};

/// The subscription id's key in `_meta`.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
/// Most URIs one listen request may name (the per-conversation subscription bound).
pub const MAX_URIS: usize = crate::routing::subscriptions::MAX_PER_CONVERSATION;
/// Longest URI one listen request may name, in bytes.
pub const MAX_URI: usize = 4096;

/// What one listen stream delivers, and how it names itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// The listen request's id, as JSON (a string or a number, as the client sent it).
    pub id: Bytes,
    /// Opted into `tools`, `prompts`, `resources` list changes (in that order).
    pub lists: [bool; 3],
    /// Resource URIs asked for, in the request's order; `honoured` says which are kept.
    pub uris: Vec<String>,
    /// The URIs subscribed to (the rest could not be).
    pub honoured: HashSet<String>,
}

impl Subscription {
    /// Reads the listen request (`body` with its frame): its id and what it opts into.
    /// A malformed `notifications` member is the client's error (-32602).
    pub fn parse(body: &[u8], f: &Frame) -> Result<Subscription, RpcError> {
        let invalid = |m: &str| RpcError::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMS, m);
        let id =
            f.id.map(|s| Bytes::copy_from_slice(s.of(body)))
                .ok_or_else(|| invalid("subscriptions/listen is a request: it needs an id"))?;
        let params = f
            .params
            .and_then(|s| crate::jsonrpc::frame::container_span(body, s.start))
            .and_then(|s| crate::jsonrpc::read::typed::<Map<String, Value>>(s.of(body)))
            .unwrap_or_default();
        let wanted = match params.get("notifications") {
            None => Map::new(),
            Some(Value::Object(n)) => n.clone(),
            Some(_) => return Err(invalid("params.notifications must be an object")),
        };
        let flag = |name: &str| match wanted.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(invalid(&format!(
                "params.notifications.{name} must be a boolean"
            ))),
        };
        let lists = [
            flag("toolsListChanged")?,
            flag("promptsListChanged")?,
            flag("resourcesListChanged")?,
        ];
        let uris = match wanted.get("resourceSubscriptions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(all)) => {
                if all.len() > MAX_URIS {
                    return Err(invalid(&format!(
                        "params.notifications.resourceSubscriptions: at most {MAX_URIS} URIs"
                    )));
                }
                let mut uris = Vec::with_capacity(all.len());
                for u in all {
                    match u.as_str() {
                        Some(u) if !u.is_empty() && u.len() <= MAX_URI => {
                            if !uris.iter().any(|seen| seen == u) {
                                uris.push(u.to_string());
                            }
                        }
                        _ => {
                            return Err(invalid(&format!(
                                "params.notifications.resourceSubscriptions: each must be a \
                                 URI of 1 to {MAX_URI} bytes"
                            )));
                        }
                    }
                }
                uris
            }
            Some(_) => {
                return Err(invalid(
                    "params.notifications.resourceSubscriptions must be an array of URIs",
                ));
            }
        };
        Ok(Subscription {
            id,
            lists,
            uris,
            honoured: HashSet::new(),
        })
    }

    fn meta(&self) -> Value {
        let id: Value = serde_json::from_slice(&self.id).unwrap_or(Value::Null);
        json!({ SUBSCRIPTION_ID: id })
    }

    /// The acknowledgement, the stream's first event: the honoured subset.
    pub fn acknowledgement(&self) -> Bytes {
        let mut notifications = Map::new();
        for (on, name) in self.lists.iter().zip(LIST_FLAGS) {
            if *on {
                notifications.insert(name.into(), Value::Bool(true));
            }
        }
        if !self.uris.is_empty() {
            let kept: Vec<&String> = self
                .uris
                .iter()
                .filter(|u| self.honoured.contains(*u))
                .collect();
            notifications.insert("resourceSubscriptions".into(), json!(kept));
        }
        event(
            &json!({"jsonrpc": "2.0", "method": Method::SubscriptionsAcknowledged.as_str(),
                      "params": {"_meta": self.meta(), "notifications": notifications}}),
        )
    }

    /// The list changes this stream opted into, tagged; `None` when it wants none of
    /// `kinds` (tools, prompts, resources).
    pub fn list_changed(&self, kinds: [bool; 3]) -> Option<Bytes> {
        let mut out = BytesMut::new();
        for ((changed, wanted), kind) in kinds.iter().zip(self.lists).zip([
            Method::ToolsListChanged,
            Method::PromptsListChanged,
            Method::ResourcesListChanged,
        ]) {
            if *changed && wanted {
                out.extend_from_slice(&event(&json!({"jsonrpc": "2.0",
                    "method": kind.as_str(),
                    "params": {"_meta": self.meta()}})));
            }
        }
        (!out.is_empty()).then(|| out.freeze())
    }

    /// `notifications/resources/updated` for `uri`, tagged, if this stream holds it.
    pub fn updated(&self, uri: &str) -> Option<Bytes> {
        self.honoured.contains(uri).then(|| {
            event(
                &json!({"jsonrpc": "2.0", "method": Method::ResourcesUpdated.as_str(),
                          "params": {"uri": uri, "_meta": self.meta()}}),
            )
        })
    }

    /// The graceful end: the listen request's response (with the gateway's serverInfo,
    /// as every result).
    pub fn end(&self) -> Bytes {
        let mut out = BytesMut::new();
        out.extend_from_slice(b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":");
        out.extend_from_slice(&self.id);
        out.extend_from_slice(b",\"result\":");
        out.extend_from_slice(
            json!({"resultType": "complete", "_meta": {
                SUBSCRIPTION_ID: self.meta()[SUBSCRIPTION_ID].clone(),
                "io.modelcontextprotocol/serverInfo":
                    {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")}}})
            .to_string()
            .as_bytes(),
        );
        out.extend_from_slice(b"}\n\n");
        out.freeze()
    }
}

/// The request's flags, in the order of [`Subscription::lists`].
const LIST_FLAGS: [&str; 3] = [
    "toolsListChanged",
    "promptsListChanged",
    "resourcesListChanged",
];

/// One SSE event carrying `message`.
fn event(message: &Value) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    out.extend_from_slice(b"event: message\ndata: ");
    out.extend_from_slice(message.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<Subscription, RpcError> {
        let b = Bytes::from(body.to_string());
        let f = crate::jsonrpc::frame::parse(&b).expect("a frame");
        Subscription::parse(&b, &f)
    }

    fn data(event: &Bytes) -> Vec<Value> {
        String::from_utf8_lossy(event)
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("event: message\ndata: "))
            .map(|d| serde_json::from_str(d).expect("JSON"))
            .collect()
    }

    #[test]
    fn the_ack_names_the_honoured_subset_and_everything_is_tagged_with_the_id() {
        let mut s = parse(
            r#"{"jsonrpc":"2.0","id":"listen-1","method":"subscriptions/listen","params":{
               "notifications":{"toolsListChanged":true,"promptsListChanged":false,
                                "resourceSubscriptions":["mock://a","mock://b","mock://a"]}}}"#,
        )
        .unwrap();
        assert_eq!(s.lists, [true, false, false]);
        assert_eq!(s.uris, ["mock://a", "mock://b"], "duplicates once");
        s.honoured.insert("mock://b".into());
        let ack = &data(&s.acknowledgement())[0];
        assert_eq!(
            ack,
            &json!({"jsonrpc": "2.0", "method": Method::SubscriptionsAcknowledged.as_str(),
                    "params": {"_meta": {SUBSCRIPTION_ID: "listen-1"},
                               "notifications": {"toolsListChanged": true,
                                                 "resourceSubscriptions": ["mock://b"]}}})
        );
        let changed = data(&s.list_changed([true, true, true]).unwrap());
        assert_eq!(changed.len(), 1, "only the kinds opted into: {changed:?}");
        assert_eq!(changed[0]["method"], "notifications/tools/list_changed");
        assert_eq!(changed[0]["params"]["_meta"][SUBSCRIPTION_ID], "listen-1");
        assert!(s.list_changed([false, true, true]).is_none());
        assert!(s.updated("mock://a").is_none(), "not honoured");
        let updated = &data(&s.updated("mock://b").unwrap())[0];
        assert_eq!(updated["params"]["uri"], "mock://b");
        assert_eq!(updated["params"]["_meta"][SUBSCRIPTION_ID], "listen-1");
        let end = &data(&s.end())[0];
        assert_eq!(
            end,
            &json!({"jsonrpc": "2.0", "id": "listen-1",
                    "result": {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: "listen-1",
                        "io.modelcontextprotocol/serverInfo":
                            {"name": "metamcp", "version": env!("CARGO_PKG_VERSION")}}}})
        );
    }

    #[test]
    fn a_numeric_id_stays_a_number_and_bad_requests_are_refused() {
        let s = parse(r#"{"jsonrpc":"2.0","id":7,"method":"subscriptions/listen","params":{}}"#)
            .unwrap();
        assert_eq!(s.lists, [false; 3]);
        assert_eq!(
            data(&s.acknowledgement())[0]["params"]["_meta"][SUBSCRIPTION_ID],
            7
        );
        assert_eq!(
            data(&s.acknowledgement())[0]["params"]["notifications"],
            json!({}),
            "nothing asked, nothing honoured"
        );
        for bad in [
            r#"{"notifications":[]}"#,
            r#"{"notifications":{"toolsListChanged":"yes"}}"#,
            r#"{"notifications":{"resourceSubscriptions":"mock://a"}}"#,
            r#"{"notifications":{"resourceSubscriptions":[1]}}"#,
            r#"{"notifications":{"resourceSubscriptions":[""]}}"#,
        ] {
            let e = parse(&format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{bad}}}"#
            ))
            .unwrap_err();
            assert_eq!(e.code, code::INVALID_PARAMS, "{bad}");
        }
        let many: Vec<String> = (0..=MAX_URIS).map(|i| format!("\"u://{i}\"")).collect();
        let e = parse(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{{"notifications":{{"resourceSubscriptions":[{}]}}}}}}"#,
            many.join(",")
        ))
        .unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMS);
        let e = parse(r#"{"jsonrpc":"2.0","method":"subscriptions/listen"}"#).unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMS, "a notification cannot listen");
    }
}
