//! What serving a request reaches, by plane ([`Planes`]): what every plane shares
//! (settings, the database, credentials, the cipher, the vault), the data plane the hop
//! owns ([`crate::mcp::hop::Plane`]), the era layer's ([`crate::mcp::era::plane::EraPlane`]),
//! code mode's runs, and the observe plane ([`crate::observe::Observe`]). The gateway's
//! state ([`crate::state::State`], the composition root above) holds it beside the
//! control plane; the data plane's rooms take this part, never the whole state.

use std::sync::Arc;

use crate::auth::Authenticator;
use crate::auth::limits::Refused;
use crate::base::KeyId;
use crate::config::Config;
use crate::crypto::Cipher;
use crate::store::db::Database;

/// The planes a request reaches, behind an `Arc`.
pub struct Planes {
    /// Settings as parsed at start.
    pub config: Config,
    /// The pool every handler queries through.
    pub db: Database,
    /// Who is calling: keys and tokens, from memory.
    pub auth: Authenticator,
    /// OAuth access tokens on the MCP endpoints (when configured).
    pub oauth: Option<Arc<crate::auth::oauth::OAuth>>,
    /// Seals client sessions (and secrets at rest).
    pub cipher: Cipher,
    /// Tokens the gateway holds for OAuth backends, and its OAuth client.
    pub vault: Arc<crate::vault::Vault>,
    /// Everything a call meets on its way through.
    pub data: crate::mcp::hop::Plane,
    /// What the era adapters hold between a call's requests.
    pub era: crate::mcp::era::plane::EraPlane,
    /// Code runs at once, per key and in total (`METAMCP_CODE_RUNS*`).
    pub code_runs: crate::codemode::RunLimiter,
    /// Events, metrics, the audit trail and span export.
    pub observe: crate::observe::Observe,
}

impl Planes {
    /// A request refused by a key's limit: counted, and logged once a minute per key
    /// while the key is being limited (not once per refusal).
    pub fn over_limit(&self, key: &KeyId, refused: &Refused) {
        self.observe
            .metrics
            .limited(key.as_str(), refused.kind.as_str());
        if self.auth.limits.should_log(key, crate::base::unix_now()) {
            tracing::warn!(key_id = %key, limit = refused.kind.as_str(), reason = %refused.message,
                "key is being limited (logged once a minute)");
        }
    }
}
