//! Independent peers: the official SDKs (Python 1.x and 2.x, TypeScript) as clients and
//! servers through the gateway (`sdks`), the MCP conformance suite held to its counts
//! (`conformance`), and the reference "everything" servers (`everything`). They need
//! `target/peers` (tests/peers/install.sh). The Python peers start warm, and `warm` holds
//! that interpreter to the interpreter's own behaviour.

mod conformance;
mod everything;
pub(crate) mod sdks;
mod warm;
