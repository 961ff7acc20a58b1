//! [`boxed`]: a future put in a box it is built in, not moved into.
//!
//! `Box::pin(f(args))` builds the future on the stack, allocates, then copies all of it
//! into the heap: a future's size is that of its largest state, so the copy is of
//! kilobytes (the MCP request's future is about 5 KB) while the fresh future holds only
//! its arguments. [`boxed`] allocates first and builds the future in place: the
//! compiler then writes the arguments straight into the allocation, and nothing is
//! copied. On the forwarded `tools/call` the three boxes made per request (the
//! request's service future, the MCP handler's and the hop's) copied some 11 KB.

use std::future::Future;
use std::pin::Pin;

/// The future `make` returns, built in its box.
#[inline(always)]
pub fn boxed<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    let slot = Box::new_uninit();
    Box::into_pin(Box::write(slot, make()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boxed_future_runs_as_the_one_made() {
        let words = ["built", "in", "place"];
        let fut = boxed(|| async move {
            // Held across an await: part of the future's state.
            let buf = std::hint::black_box([7u8; 4096]);
            tokio::task::yield_now().await;
            assert_eq!(std::hint::black_box(&buf)[4095], 7);
            words.join(" ")
        });
        assert!(std::mem::size_of_val(&*fut) > 4096);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        assert_eq!(rt.block_on(fut), "built in place");
    }
}
