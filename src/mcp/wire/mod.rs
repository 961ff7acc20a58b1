//! The eras' dialects as bytes, below the hop: what a message of one era or the other
//! says and how it is written, with no call of anything above (the hop, the eras'
//! adapters and the pipeline read and write through these).
//! - [`versions`]: the protocol versions of both eras;
//! - [`codes`]: every error code the gateway answers with, in each era, and the mapping
//!   a 2026-07-28 client needs;
//! - [`rpc`]: JSON-RPC errors ([`rpc::RpcError`], its codes) and envelopes, a result
//!   stamped with `resultType` for a 2026-07-28 client;
//! - [`relayed`]: the sealed mark on a request one replica passes to another;
//! - [`retired`]: the error codes the 2026-07-28 revision retired, patched in place;
//! - [`ask`]: a backend's question (a request during a call, a URL elicitation) as a
//!   2026-07-28 `inputRequests` member; [`held`]: the events a call holds back for them;
//! - [`request_state`]: the sealed state a client carries between rounds;
//! - [`run_state`]: the sealed state of a `run_code` call suspended for the user;
//! - [`task_ids`]: the sealed task ids of the session era's tasks;
//! - [`headers`]: the 2026-07-28 request headers checked against the body;
//! - [`extensions`]: the `_meta` members a 2026-07-28 request carries on to its backend.

pub mod ask;
pub mod bridge;
pub mod codes;
pub mod extensions;
pub mod headers;
pub mod held;
pub mod relayed;
pub mod request_state;
pub mod retired;
pub mod rpc;
pub mod run_state;
pub mod task_ids;
pub mod versions;
