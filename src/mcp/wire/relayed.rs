//! The mark on a request one replica passes to another ([`crate::mcp::era::relay`]): the
//! `metamcp-relayed` header. Its presence alone keeps a request from being passed on
//! again; its value, sealed under the gateway's key (which every replica shares), tells
//! the replica that takes it that the request was admitted and charged already on the
//! replica it came through, so the key's limits are charged once for it. The seal binds
//! the caller, the request's bytes and a short expiry; a client's own header (any value
//! it can make) opens as nothing and is charged as every request is.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::{Cipher, Sealed, to_hex};

/// The header.
pub const RELAYED: &str = "metamcp-relayed";
const PREFIX: &str = "mrl1.";
const AAD: &[u8] = b"metamcp relayed v1";
/// How long a mark holds: a relayed request reaches its replica within this.
const TTL_MS: u64 = 60_000;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Claims {
    /// The key id (empty for an open namespace's anonymous callers).
    principal: String,
    /// SHA-256 of the request's body, hex (16 bytes).
    digest: String,
    expires_ms: u64,
}

const MARKS: Sealed<Claims> = Sealed::new(PREFIX, AAD, 512);

fn digest(body: &[u8]) -> String {
    to_hex(&Sha256::digest(body)[..16])
}

/// The mark for `body`, relayed for `principal` at `now_ms`.
pub fn mark(cipher: &Cipher, principal: &str, body: &[u8], now_ms: u64) -> String {
    MARKS.seal(
        cipher,
        &Claims {
            principal: principal.to_string(),
            digest: digest(body),
            expires_ms: now_ms.saturating_add(TTL_MS),
        },
    )
}

/// Whether `value` is a mark this gateway made for `principal`'s request `body`, unexpired.
pub fn charged_already(
    cipher: &Cipher,
    value: &[u8],
    principal: &str,
    body: &[u8],
    now_ms: u64,
) -> bool {
    let Some(claims) = std::str::from_utf8(value)
        .ok()
        .and_then(|v| MARKS.open(cipher, v))
    else {
        return false;
    };
    claims.expires_ms > now_ms
        && crate::crypto::constant_time_eq(claims.principal.as_bytes(), principal.as_bytes())
        && crate::crypto::constant_time_eq(claims.digest.as_bytes(), digest(body).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher() -> Cipher {
        Cipher::new(&crate::config::KeyBytes([5; 32]))
    }

    #[test]
    fn a_mark_holds_only_for_its_caller_its_request_and_its_time() {
        let c = cipher();
        let m = mark(&c, "k1", b"{\"id\":1}", 1_000);
        assert!(charged_already(
            &c,
            m.as_bytes(),
            "k1",
            b"{\"id\":1}",
            2_000
        ));
        assert!(!charged_already(
            &c,
            m.as_bytes(),
            "k2",
            b"{\"id\":1}",
            2_000
        ));
        assert!(!charged_already(
            &c,
            m.as_bytes(),
            "k1",
            b"{\"id\":2}",
            2_000
        ));
        assert!(!charged_already(
            &c,
            m.as_bytes(),
            "k1",
            b"{\"id\":1}",
            61_000
        ));
        let other = Cipher::new(&crate::config::KeyBytes([6; 32]));
        assert!(!charged_already(
            &other,
            m.as_bytes(),
            "k1",
            b"{\"id\":1}",
            2_000
        ));
        // What a client sends as the header is nothing.
        for forged in ["1", "", "mrl1.", "mrl1.AAAA", "true"] {
            assert!(!charged_already(
                &c,
                forged.as_bytes(),
                "k1",
                b"{\"id\":1}",
                2_000
            ));
        }
    }

    /// The last character of a mark carries bits past its last byte; a lenient decoder
    /// opened a mark with those bits set as the mark itself (found by the property
    /// test below in CI).
    #[test]
    fn a_mark_with_its_stray_bits_set_is_not_a_mark() {
        let c = cipher();
        for _ in 0..24 {
            let m = mark(&c, "k1", b"b", 1).into_bytes();
            let last = m.len() - 1;
            for byte in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
                let mut altered = m.clone();
                altered[last] = *byte;
                if altered != m {
                    assert!(!charged_already(&c, &altered, "k1", b"b", 1));
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn no_other_value_passes(value in proptest::collection::vec(any::<u8>(), 0..300), at in 0usize..200, byte in any::<u8>()) {
            let c = cipher();
            prop_assert!(!charged_already(&c, &value, "k1", b"b", 1));
            let m = mark(&c, "k1", b"b", 1).into_bytes();
            let mut altered = m.clone();
            let i = at % altered.len();
            altered[i] = byte;
            if altered != m {
                prop_assert!(!charged_already(&c, &altered, "k1", b"b", 1));
            }
        }
    }
}
