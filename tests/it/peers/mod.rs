//! Independent peers: the official SDKs (Python 1.x and 2.x, TypeScript) as clients and
//! servers through the gateway (`sdks`), the MCP conformance suite held to its counts
//! (`conformance`), and the reference "everything" servers (`everything`). They need
//! `target/peers` (tests/peers/install.sh).

mod conformance;
mod everything;
pub(crate) mod sdks;
