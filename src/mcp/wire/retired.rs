//! Codes the 2026-07-28 revision gives otherwise: a backend's retired error codes
//! patched in place for a stateless client, and the mark of a URL elicitation required.

use bytes::{Bytes, BytesMut};

use crate::jsonrpc::needle::Needle;

/// A backend's error codes the 2026-07-28 revision retired, and what a stateless client
/// gets instead: -32002 (resource not found) is -32602 (invalid params). Same length, so
/// the answer is patched in place; a code split between two pieces is left as it is.
static RETIRED: Needle = crate::needle!(b"-32002");
const RETIRED_AS: &[u8] = b"-32602";
/// What marks a backend's -32042 (URL elicitation required).
pub(crate) static URL_REQUIRED: Needle = crate::needle!(b"-32042");

/// `piece` with each retired code that is the value of a `"code"` member replaced.
pub(crate) fn retire_codes(piece: Bytes) -> Bytes {
    let mut patched: Option<BytesMut> = None;
    let (old, new) = (RETIRED.len(), RETIRED_AS);
    let mut from = 0;
    while let Some(at) = RETIRED.find(&piece[from..]).map(|i| from + i) {
        from = at + old;
        let before = piece[..at].trim_ascii_end();
        let is_code = before
            .strip_suffix(b":")
            .is_some_and(|b| b.trim_ascii_end().ends_with(b"\"code\""));
        let whole = piece.get(at + old).is_none_or(|c| !c.is_ascii_digit());
        if is_code && whole {
            let p = patched.get_or_insert_with(|| BytesMut::from(&piece[..]));
            p[at..at + new.len()].copy_from_slice(new);
        }
    }
    patched.map_or(piece, BytesMut::freeze)
}
