//! JSON-RPC messages read as spans of their bytes (no value tree), shared by the proxy and
//! the transports that read backends' messages. A message's method is recognised once,
//! as a [`methods::Method`], when its frame is parsed.

pub mod answer;
pub mod fold;
pub mod frame;
pub mod log_level;
pub mod methods;
pub mod needle;
pub mod read;
pub mod read_names;
pub mod sse;
pub mod tape;
