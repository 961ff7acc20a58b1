//! The two process secrets: given in the environment, or generated into the data dir.

use crate::config::{Config, Database, KeyBytes, Secret, parse_key_hex};
use crate::crypto::{random_bytes, to_hex};
use crate::store::embedded::{EmbeddedError, load_or_generate_secret};

/// File names under the data dir (embedded mode only).
pub const JWT_SECRET_FILE: &str = "jwt_secret";
pub const ENCRYPTION_KEY_FILE: &str = "encryption_key";

/// The JWT signing secret and the at-rest encryption key.
#[derive(Clone, Debug)]
pub struct Secrets {
    pub jwt: Secret,
    pub encryption: KeyBytes,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{0}")]
    Embedded(#[from] EmbeddedError),
    #[error("{0} in the data dir is corrupt: expected 64 hex digits")]
    Corrupt(&'static str),
    #[error("{0} must be set when DATABASE_URL is set")]
    Missing(&'static str),
}

impl Secrets {
    /// Uses the configured values; in embedded mode, a missing one is read from (or
    /// generated into) the data dir with mode 0600.
    pub fn resolve(config: &Config) -> Result<Secrets, SecretsError> {
        let embedded = matches!(config.database, Database::Embedded);
        let jwt = match (&config.jwt_secret, embedded) {
            (Some(s), _) => s.clone(),
            (None, true) => Secret::new(load_or_generate_secret(
                &config.data_dir,
                JWT_SECRET_FILE,
                random_hex32,
            )?),
            (None, false) => return Err(SecretsError::Missing("JWT_SECRET")),
        };
        let encryption = match (&config.encryption_key, embedded) {
            (Some(k), _) => k.clone(),
            (None, true) => {
                let text =
                    load_or_generate_secret(&config.data_dir, ENCRYPTION_KEY_FILE, random_hex32)?;
                KeyBytes(parse_key_hex(&text).ok_or(SecretsError::Corrupt(ENCRYPTION_KEY_FILE))?)
            }
            (None, false) => return Err(SecretsError::Missing("ENCRYPTION_KEY")),
        };
        Ok(Secrets { jwt, encryption })
    }
}

fn random_hex32() -> String {
    let mut b = [0u8; 32];
    random_bytes(&mut b);
    to_hex(&b)
}
