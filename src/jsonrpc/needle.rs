//! Substrings looked for in every message of a path, with their searchers built once:
//! `memchr::memmem::find` builds one per call, which cost about 1 % of a stateless
//! `tools/call`'s gateway time (measured with perf, loadtest `STATELESS=1`).

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// A substring with its searcher, built on first use.
pub struct Needle(LazyLock<Finder<'static>>);

impl Needle {
    pub const fn new(init: fn() -> Finder<'static>) -> Needle {
        Needle(LazyLock::new(init))
    }

    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        self.0.find(haystack)
    }

    pub fn in_(&self, haystack: &[u8]) -> bool {
        self.0.find(haystack).is_some()
    }

    pub fn len(&self) -> usize {
        self.0.needle().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `static NAME: Needle = needle!(b"…");`
#[macro_export]
macro_rules! needle {
    ($bytes:expr) => {
        $crate::jsonrpc::needle::Needle::new(|| memchr::memmem::Finder::new($bytes))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    static N: Needle = crate::needle!(b"-32042");

    #[test]
    fn finds_like_memmem() {
        assert_eq!(N.find(b"code:-32042}"), Some(5));
        assert!(!N.in_(b"-3204"));
        assert_eq!(N.len(), 6);
    }
}
