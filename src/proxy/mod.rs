//! The hop itself: JSON-RPC frames read as spans, spliced into upstream requests, and the
//! client's id restored in the answers streaming back.

pub mod calls;
pub mod forward;
pub mod rpc;
pub mod splicer;
