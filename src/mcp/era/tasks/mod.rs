//! Tasks, both eras in one place:
//! - [`session`]: a session client's tasks (MCP 2025-11-25: `tasks/get`, `tasks/result`,
//!   `tasks/list`, `tasks/cancel`), kept by the gateway;
//! - [`extension`]: the tasks extension of 2026-07-28 (`tasks/get`, `tasks/update`,
//!   `tasks/cancel`, `tasks/input_response`), kept by the gateway too;
//! - [`inputs`]: the questions a session-era backend's task asks, held for a 2026-07-28
//!   client's `tasks/input_response`;
//! - [`ids`]: the gateway's sealed task ids;
//! - [`places`]: the places task calls hold under their key's bound while being created,
//!   and the places in flight tasks hold while they run;
//! - [`look`]: a look at whether the tasks holding a refused key's places have ended.

pub mod extension;
pub mod inputs;
pub mod look;
pub mod places;
pub mod session;
