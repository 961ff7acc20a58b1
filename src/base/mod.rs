//! The ground floor: words every room shares, depending on nothing of the crate's own
//! but [`crate::jsonrpc`]'s frame reader.
//! A backend, a session and the control plane all name a client's capability set, a
//! key id, the time and a transport's failure the same way; those names live here, so
//! no room climbs to another room's floor for a type.
//!
//! - [`boxed`]: a future built in its box, not copied into it.
//! - [`caps`]: the client capabilities the gateway routes on ([`ClientCaps`]) and the
//!   extensions it carries.
//! - [`key_id`]: [`KeyId`], an API key's id.
//! - [`metadata`]: cloud instance-metadata addresses, in every spelling (never fetched).
//! - [`origin`]: [`Origin`], a URL's scheme, host and port (what credentials are bound to).
//! - [`time`]: [`unix_now`], [`unix_now_ms`], and the [`Clock`] the limits read.
//! - [`upstream_error`]: [`UpstreamError`], why talking to a backend failed.

pub mod boxed;
pub mod caps;
pub mod key_id;
pub mod metadata;
pub mod origin;
pub mod time;
pub mod upstream_error;

pub use boxed::boxed;
pub use caps::ClientCaps;
pub use key_id::KeyId;
pub use origin::Origin;
pub use time::{Clock, unix_now, unix_now_ms};
pub use upstream_error::UpstreamError;
