//! A key id, the name every plane uses for an API key.

use std::fmt;

use serde::Serialize;

/// Its length: 16 lowercase hex digits.
pub const ID_LEN: usize = 16;

/// A key id: 16 lowercase hex digits, held inline (copying one allocates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; ID_LEN]);

impl KeyId {
    pub fn parse(s: &str) -> Option<KeyId> {
        let bytes: [u8; ID_LEN] = s.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            .then_some(KeyId(bytes))
    }

    /// All zeros: never given to a key.
    pub const ZERO: KeyId = KeyId([b'0'; ID_LEN]);

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The same, as bytes (no check): ASCII hex digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
