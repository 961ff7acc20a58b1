//! Name rules shared by servers, namespaces and tools.

/// Server and namespace names: `^[A-Za-z0-9][A-Za-z0-9-]{0,31}$`. No `_`, so the `__`
/// between a server name and a tool name is never ambiguous.
pub fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// The name the gateway's own tools are served under (`metamcp__search_tools`), and
/// that audit rows and policies use for them.
pub const GATEWAY_NAME: &str = "metamcp";

/// Why `name` cannot be a server's name though it matches the rule: it is the gateway's
/// own ([`GATEWAY_NAME`], in any case), which a server would pass itself off as in the
/// audit trail and in policies. `None` when it may.
pub fn reserved_server_name(name: &str) -> Option<String> {
    name.eq_ignore_ascii_case(GATEWAY_NAME).then(|| {
        format!(
            "{name:?} is the gateway's own name (its tools, audit rows and policies go by \
             it): give the server another name (\"as\": \"OTHER\" or keyadm registry add \
             NAME --as OTHER when installing from a registry)"
        )
    })
}

/// Tool and prompt names as clients accept them: `^[A-Za-z0-9_-]{1,64}$`.
pub fn is_valid_tool_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// A namespace's key for a tool override: `<server>__<tool>` (the backend's own tool
/// name, which may be longer than an exposed name and contain `.` or `/`) or an exposed
/// name: `^[A-Za-z0-9_./-]{1,164}$`.
pub fn is_valid_override_key(s: &str) -> bool {
    (1..=164).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "time", "team-a", "A1-b2", &"x".repeat(32)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a_b", "a b", "ä", &"x".repeat(33)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        for reserved in ["metamcp", "MetaMCP"] {
            assert!(is_valid_name(reserved) && reserved_server_name(reserved).is_some());
        }
        assert!(reserved_server_name("metamcp2").is_none());
        assert!(is_valid_tool_name("time__get_current_time"));
        assert!(!is_valid_tool_name(&"x".repeat(65)));
        assert!(!is_valid_tool_name("a.b"));
        assert!(is_valid_override_key("s__files/read.v2"));
        assert!(!is_valid_override_key("a b") && !is_valid_override_key(""));
    }
}
