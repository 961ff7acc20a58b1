//! The names a client sees (a server's item exposed prefixed or bare, always a valid MCP
//! tool name): kept in `model::exposure`, below both routing and the pins that ask it.

pub use crate::model::exposure::{exposed_name, fnv1a};
