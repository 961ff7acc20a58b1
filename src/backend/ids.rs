//! Upstream request ids: `"g<n>"`, cut from a per-thread arena.

use bytes::{Bytes, BytesMut};

/// Longest backend task id the gateway wraps (longer ones are refused at creation, and
/// a backend's notice naming a longer one is dropped).
pub const MAX_UPSTREAM_TASK_ID: usize = 256;

/// Upstream request `n`'s id, `"g<n>"`: written on the stack, then into this thread's
/// id arena and handed out as a slice of it (one allocation for some hundreds of ids,
/// not one a call).
pub fn upstream_id(n: u64) -> Bytes {
    let mut buf = [0u8; 24];
    let mut at = buf.len() - 1;
    buf[at] = b'"';
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    buf[at - 2] = b'"';
    buf[at - 1] = b'g';
    let id = &buf[at - 2..];
    ID_ARENA.with(|arena| {
        let mut arena = arena.borrow_mut();
        if arena.capacity() - arena.len() < id.len() {
            // The old arena lives on only as long as ids cut from it.
            *arena = BytesMut::with_capacity(ID_ARENA_BYTES);
        }
        arena.extend_from_slice(id);
        arena.split().freeze()
    })
}

/// Size of one upstream-id arena.
const ID_ARENA_BYTES: usize = 4096;

thread_local! {
    static ID_ARENA: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_ids_are_quoted_and_numbered() {
        assert_eq!(&upstream_id(0)[..], b"\"g0\"");
        assert_eq!(&upstream_id(42)[..], b"\"g42\"");
        assert_eq!(&upstream_id(u64::MAX)[..], b"\"g18446744073709551615\"");
        // Across many arenas, each id keeps its bytes while later ones are written.
        let ids: Vec<(u64, Bytes)> = (0..5000u64)
            .map(|i| (i * 7919, upstream_id(i * 7919)))
            .collect();
        for (n, id) in &ids {
            assert_eq!(&id[..], format!("\"g{n}\"").as_bytes());
        }
    }
}
