//! The names a client sees: a server's item exposed prefixed or bare, always a valid
//! MCP tool name, and the stable short hash that shortens one that is not.

use crate::model::names::is_valid_tool_name;

/// FNV-1a, for stable short hashes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The name a client sees for `server`'s `name`: prefixed (`server__name`) or bare,
/// always within `^[A-Za-z0-9_-]{1,64}$`. Too long or with other characters, it becomes
/// a readable prefix, `_`, and eight hex digits of a hash of the original.
pub fn exposed_name(server: &str, name: &str, prefix: bool) -> String {
    let full = if prefix {
        format!("{server}__{name}")
    } else {
        name.to_string()
    };
    if is_valid_tool_name(&full) {
        return full;
    }
    let hash = format!("{:08x}", fnv1a(full.as_bytes()) as u32);
    let clean: String = full
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let keep = 64 - 1 - hash.len();
    let head: String = clean.chars().take(keep).collect();
    format!("{head}_{hash}")
}
