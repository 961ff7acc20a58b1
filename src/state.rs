//! What every request can reach.

use crate::config::Config;
use crate::crypto::Cipher;
use crate::db::Database;
use crate::keys::KeyStore;

/// Shared state behind an `Arc`.
pub struct State {
    /// Settings as parsed at start.
    pub config: Config,
    /// The pool every handler queries through.
    pub db: Database,
    /// API key verification.
    pub keys: KeyStore,
    /// Seals secrets at rest.
    pub cipher: Cipher,
}
