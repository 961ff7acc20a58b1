//! Log levels (RFC 5424's, as MCP names them) and the stateless era's per-request
//! `_meta["io.modelcontextprotocol/logLevel"]`: no level, no `notifications/message` on
//! that request's stream; with one, messages at or above it.

/// The levels, least severe first.
pub const LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// The `_meta` key a stateless request names its level under.
pub const META_KEY: &str = "io.modelcontextprotocol/logLevel";

/// A level's rank (debug 0 … emergency 7).
pub fn rank(level: &str) -> Option<u8> {
    LEVELS.iter().position(|l| *l == level).map(|i| i as u8)
}

/// The level a request's `_meta` object (its bytes) asks for: `Ok(None)` when it names
/// none, `Err` with the value when it is not a level. The object is read only when
/// the key appears in it (almost no request names one).
pub fn requested(meta: &[u8]) -> Result<Option<u8>, String> {
    static KEY: super::needle::Needle = crate::needle!(META_KEY.as_bytes());
    if !KEY.in_(meta) {
        return Ok(None);
    }
    let object: serde_json::Map<String, serde_json::Value> = super::read::typed(meta)
        .ok_or_else(|| "params._meta is not an object read one way".to_string())?;
    match object.get(META_KEY) {
        None => Ok(None),
        Some(serde_json::Value::String(l)) => rank(l)
            .map(Some)
            .ok_or_else(|| format!("{l:?} is not a log level ({})", LEVELS.join(", "))),
        Some(other) => Err(format!(
            "{other} is not a log level ({})",
            LEVELS.join(", ")
        )),
    }
}

/// Whether a `notifications/message` (the whole JSON-RPC message) reaches a request
/// that asked for `floor`: only at or above it; nothing when it asked for none. A
/// message with no readable level is treated as `info`.
pub fn passes(message: &[u8], floor: Option<u8>) -> bool {
    let Some(floor) = floor else {
        return false;
    };
    #[derive(serde::Deserialize)]
    struct Params<'a> {
        #[serde(borrow)]
        level: Option<&'a str>,
    }
    #[derive(serde::Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        params: Option<Params<'a>>,
    }
    let level = serde_json::from_slice::<Message>(message)
        .ok()
        .and_then(|m| m.params?.level)
        .and_then(rank)
        .unwrap_or(1);
    level >= floor
}

/// The levels session-era clients set with `logging/setLevel`, by conversation, until
/// their sessions expire. Backends are asked for the lowest level any live session
/// wants; each session's call streams then carry only what it asked for.
#[derive(Default)]
pub struct Levels {
    map: std::sync::Mutex<std::collections::HashMap<std::sync::Arc<str>, (u8, u64)>>,
}

/// Sessions whose levels are remembered at most; beyond, an expired one gives way, and
/// a new level when none has expired is applied upstream without being remembered.
pub const MAX_LEVELS: usize = 100_000;

impl Levels {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<std::sync::Arc<str>, (u8, u64)>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `level` for `conversation` (its session expiring at `expires`, unix
    /// seconds); the lowest level of the live sessions before and after.
    pub fn set(
        &self,
        conversation: &std::sync::Arc<str>,
        level: u8,
        expires: u64,
        now: u64,
    ) -> (Option<u8>, Option<u8>) {
        let mut map = self.lock();
        let floor = |m: &std::collections::HashMap<std::sync::Arc<str>, (u8, u64)>| {
            m.values().filter(|(_, e)| *e > now).map(|(l, _)| *l).min()
        };
        let before = floor(&map);
        if map.len() >= MAX_LEVELS && !map.contains_key(conversation) {
            map.retain(|_, (_, e)| *e > now);
        }
        if map.len() < MAX_LEVELS || map.contains_key(conversation) {
            map.insert(conversation.clone(), (level, expires));
        }
        let after = floor(&map).map_or(Some(level), |f| Some(f.min(level)));
        (before, after)
    }

    /// The level `conversation` set, if any.
    pub fn get(&self, conversation: &str) -> Option<u8> {
        self.lock().get(conversation).map(|(l, _)| *l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_lowest_level_of_live_sessions() {
        let levels = Levels::default();
        let a: std::sync::Arc<str> = "a".into();
        let b: std::sync::Arc<str> = "b".into();
        assert_eq!(levels.set(&a, 4, 100, 10), (None, Some(4)));
        assert_eq!(levels.set(&b, 1, 100, 10), (Some(4), Some(1)));
        assert_eq!(levels.set(&b, 6, 100, 10), (Some(1), Some(4)));
        assert_eq!(levels.get("b"), Some(6));
        // a's session has expired: b's own level is the floor.
        assert_eq!(levels.set(&b, 5, 300, 200), (None, Some(5)));
        assert_eq!(levels.get("nobody"), None);
    }

    #[test]
    fn levels_are_asked_for_checked_and_applied() {
        assert_eq!(rank("debug"), Some(0));
        assert_eq!(rank("emergency"), Some(7));
        assert_eq!(rank("verbose"), None);
        let meta = |v: &str| {
            format!(
                r#"{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","{META_KEY}":{v}}}"#
            )
        };
        assert_eq!(
            requested(br#"{"io.modelcontextprotocol/protocolVersion":"x"}"#),
            Ok(None)
        );
        assert_eq!(requested(meta(r#""warning""#).as_bytes()), Ok(Some(3)));
        assert!(
            requested(meta(r#""loud""#).as_bytes())
                .unwrap_err()
                .contains("loud")
        );
        assert!(requested(meta("3").as_bytes()).is_err());
        let message = |level: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"notifications/message","params":{{"level":"{level}","data":"x"}}}}"#
            )
        };
        assert!(
            !passes(message("emergency").as_bytes(), None),
            "none asked, none sent"
        );
        assert!(passes(message("error").as_bytes(), Some(3)));
        assert!(passes(message("warning").as_bytes(), Some(3)));
        assert!(!passes(message("info").as_bytes(), Some(3)));
        assert!(passes(message("debug").as_bytes(), Some(0)));
        assert!(!passes(
            br#"{"jsonrpc":"2.0","method":"notifications/message"}"#,
            Some(2)
        ));
    }
}
