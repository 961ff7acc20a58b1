//! `keyadm servers authorize NAME`: connects an OAuth server's shared account. Prints
//! the URL to open (the callback comes back to the gateway at `METAMCP_PUBLIC_URL`) and
//! waits until the gateway has the tokens, or the authorization expires.

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use super::KeyadmError;
use crate::store::registry::Registry;
use crate::vault::{PENDING_TTL_SECS, Vault, VaultError};

pub(super) async fn authorize(
    registry: &Registry,
    vault: &Vault,
    trail: &super::changes::Trail,
    name: &str,
    json: bool,
) -> Result<String, KeyadmError> {
    let server = registry.get_server(name).await?;
    if server.auth.per_caller() {
        return Err(KeyadmError::Input(format!(
            "server {} connects each caller's own account: callers connect theirs \
             (POST /api/v1/me/connections/{}, `mcpc auth connect`, or when a call asks)",
            server.name, server.name
        )));
    }
    let fail = |e: VaultError| KeyadmError::Input(e.to_string());
    let redirect = vault.redirect_uri(None).map_err(fail)?;
    let since = vault.db_now().await.map_err(fail)?;
    let url = vault
        .begin(&server, "shared", &redirect, None)
        .await
        .map_err(fail)?;
    trail
        .record(
            registry.pool(),
            &[("server.authorize", server.name.as_str())],
        )
        .await;
    let mut out = std::io::stdout();
    let first = if json {
        super::line(
            json!({"server": server.name, "authorization_url": url, "expires_in": PENDING_TTL_SECS}),
        )
    } else {
        format!(
            "Open this URL in a browser to connect {}'s account (valid {} minutes):\n{url}\nwaiting…\n",
            server.name,
            PENDING_TTL_SECS / 60
        )
    };
    let _ = out.write_all(first.as_bytes());
    let _ = out.flush();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(PENDING_TTL_SECS as u64);
    loop {
        if vault
            .connected_at(&server.id)
            .await
            .map_err(fail)?
            .is_some_and(|at| at >= since)
        {
            return Ok(if json {
                super::line(json!({"server": server.name, "connected": true}))
            } else {
                format!("connected {}\n", server.name)
            });
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(KeyadmError::Input(format!(
                "{} was not connected within {} minutes",
                server.name,
                PENDING_TTL_SECS / 60
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `keyadm connections list [--server NAME] [--key ID]` and `keyadm connections revoke
/// SERVER [--key ID]` (a caller's own account at a per-caller server; without `--key`,
/// the server's shared account).
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionsCommand {
    List {
        server: Option<String>,
        key: Option<String>,
    },
    Revoke {
        server: String,
        key: Option<String>,
    },
}

/// A `--key` value: a key id, as `key:<id>` principals name it.
fn key_principal(key: Option<&str>) -> Result<Option<String>, crate::cli::UsageError> {
    key.map(|k| {
        crate::base::KeyId::parse(k)
            .map(|id| format!("key:{}", id.as_str()))
            .ok_or_else(|| crate::cli::UsageError("--key takes a key id (16 hex digits)".into()))
    })
    .transpose()
}

pub fn parse(args: &[String]) -> Result<ConnectionsCommand, crate::cli::UsageError> {
    use crate::cli::UsageError;
    let line = super::servers::Line::read(args, &[], &["--server", "--key"])?;
    let key = key_principal(line.at_most_one("--key")?)?;
    match line.words.as_slice() {
        ["list"] => Ok(ConnectionsCommand::List {
            server: line.at_most_one("--server")?.map(str::to_string),
            key,
        }),
        ["revoke", server] if line.at_most_one("--server")?.is_none() => {
            Ok(ConnectionsCommand::Revoke {
                server: server.to_string(),
                key,
            })
        }
        ["revoke", ..] => Err(UsageError("connections revoke takes one SERVER".into())),
        _ => Err(UsageError(
            "usage: keyadm connections list [--server NAME] [--key ID] | connections revoke \
             SERVER [--key ID]"
                .into(),
        )),
    }
}

pub(super) async fn connections(
    registry: &Registry,
    vault: &Vault,
    trail: &super::changes::Trail,
    cmd: &ConnectionsCommand,
    json: bool,
) -> Result<String, KeyadmError> {
    let fail = |e: VaultError| KeyadmError::Input(e.to_string());
    match cmd {
        ConnectionsCommand::List { server, key } => {
            let id = match server {
                Some(s) => Some(registry.get_server(s).await?.id),
                None => None,
            };
            let mut list = vault.connections(id).await.map_err(fail)?;
            if let Some(k) = key {
                list.retain(|c| c["principal"] == k.as_str());
            }
            if json {
                return Ok(super::line(json!(list)));
            }
            let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
            let rows = list
                .iter()
                .map(|c| {
                    vec![
                        text(&c["server"]),
                        text(&c["principal"]),
                        text(&c["status"]),
                        text(&c["expires_at"]),
                    ]
                })
                .collect();
            Ok(super::aligned(
                &["SERVER", "PRINCIPAL", "STATUS", "EXPIRES"],
                rows,
            ))
        }
        ConnectionsCommand::Revoke { server: name, key } => {
            let server = registry.get_server(name).await?;
            let principal = key.as_deref().unwrap_or("shared");
            if !vault.revoke(&server, principal).await.map_err(fail)? {
                return Err(KeyadmError::Input(format!(
                    "server {} has no connected account for {principal}",
                    server.name
                )));
            }
            trail
                .record(
                    registry.pool(),
                    &[("server.disconnect", server.name.as_str())],
                )
                .await;
            Ok(if json {
                super::line(json!({"server": server.name, "principal": principal, "revoked": true}))
            } else {
                format!("revoked {}'s account for {principal}\n", server.name)
            })
        }
    }
}
