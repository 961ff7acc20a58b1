//! `keyadm oauth`: blocking OAuth identities (a subject or a client id) on every gateway.

use serde_json::json;

use crate::cli::UsageError;
use crate::keyadm::servers::Line;
use crate::keyadm::{KeyadmError, line};
use crate::store::oauth::{self, BlockKind};

/// A parsed `keyadm oauth` command.
#[derive(Debug, Clone, PartialEq)]
pub enum OAuthCommand {
    Block {
        kind: BlockKind,
        value: String,
        issuer: Option<String>,
        reason: Option<String>,
    },
    Unblock {
        kind: BlockKind,
        value: String,
        issuer: Option<String>,
    },
    Blocks,
}

pub fn parse_oauth(args: &[String]) -> Result<OAuthCommand, UsageError> {
    let line = Line::read(args, &[], &["--sub", "--client-id", "--issuer", "--reason"])?;
    let allowed = |ok: &[&str]| match line.flags.iter().find(|(f, _)| !ok.contains(f)) {
        Some((f, _)) => Err(UsageError(format!("{f} does not apply to this command"))),
        None => Ok(()),
    };
    let who = || -> Result<(BlockKind, String), UsageError> {
        match (line.at_most_one("--sub")?, line.at_most_one("--client-id")?) {
            (Some(s), None) if !s.is_empty() => Ok((BlockKind::Sub, s.to_string())),
            (None, Some(c)) if !c.is_empty() => Ok((BlockKind::ClientId, c.to_string())),
            (Some(_), Some(_)) => Err(UsageError("give --sub or --client-id, not both".into())),
            _ => Err(UsageError(
                "name whom: --sub SUBJECT or --client-id ID".into(),
            )),
        }
    };
    let issuer = || -> Result<Option<String>, UsageError> {
        Ok(line
            .at_most_one("--issuer")?
            .map(|i| i.trim_end_matches('/').to_string()))
    };
    match line.words.as_slice() {
        ["block"] => {
            allowed(&["--sub", "--client-id", "--issuer", "--reason"])?;
            let (kind, value) = who()?;
            let reason = line.at_most_one("--reason")?.map(str::to_string);
            if reason.as_ref().is_some_and(|r| r.len() > 1000) {
                return Err(UsageError("--reason: at most 1000 bytes".into()));
            }
            if value.len() > 512 {
                return Err(UsageError(
                    "a subject or client id is at most 512 bytes".into(),
                ));
            }
            Ok(OAuthCommand::Block {
                kind,
                value,
                issuer: issuer()?,
                reason,
            })
        }
        ["unblock"] => {
            allowed(&["--sub", "--client-id", "--issuer"])?;
            let (kind, value) = who()?;
            Ok(OAuthCommand::Unblock {
                kind,
                value,
                issuer: issuer()?,
            })
        }
        ["blocks"] => {
            allowed(&[])?;
            Ok(OAuthCommand::Blocks)
        }
        [] => Err(UsageError(
            "oauth needs a subcommand: block, unblock, blocks".into(),
        )),
        [other, ..] => Err(UsageError(format!("unknown oauth subcommand {other:?}"))),
    }
}

pub(super) async fn oauth_command(
    pool: &deadpool_postgres::Pool,
    trail: &super::changes::Trail,
    cmd: &OAuthCommand,
    json: bool,
) -> Result<String, KeyadmError> {
    Ok(match cmd {
        OAuthCommand::Block {
            kind,
            value,
            issuer,
            reason,
        } => {
            let created =
                oauth::block(pool, *kind, value, issuer.as_deref(), reason.as_deref()).await?;
            if created {
                let who = blocked(*kind, value, issuer.as_deref());
                trail.record(pool, &[("oauth.block", who.as_str())]).await;
            }
            if json {
                line(
                    json!({"blocked": {"kind": kind, "value": value, "issuer": issuer},
                            "created": created}),
                )
            } else {
                format!(
                    "{} {}={value}{} (every gateway refuses its tokens within a second)\n",
                    if created {
                        "blocked"
                    } else {
                        "already blocked:"
                    },
                    kind.as_str(),
                    issuer
                        .as_deref()
                        .map(|i| format!(" from {i}"))
                        .unwrap_or_default()
                )
            }
        }
        OAuthCommand::Unblock {
            kind,
            value,
            issuer,
        } => {
            let removed = oauth::unblock(pool, *kind, value, issuer.as_deref()).await?;
            if !removed {
                return Err(KeyadmError::Input(format!(
                    "no block on {}={value}{}",
                    kind.as_str(),
                    issuer
                        .as_deref()
                        .map(|i| format!(" from {i}"))
                        .unwrap_or_default()
                )));
            }
            let who = blocked(*kind, value, issuer.as_deref());
            trail.record(pool, &[("oauth.unblock", who.as_str())]).await;
            if json {
                line(json!({"unblocked": {"kind": kind, "value": value, "issuer": issuer}}))
            } else {
                format!("unblocked {}={value}\n", kind.as_str())
            }
        }
        OAuthCommand::Blocks => {
            let list = oauth::list(pool).await?;
            if json {
                line(json!({"blocks": list}))
            } else if list.is_empty() {
                "no blocked OAuth identities\n".to_string()
            } else {
                let mut out = format!(
                    "{:<10} {:<32} {:<32} {:<20} REASON\n",
                    "KIND", "VALUE", "ISSUER", "SINCE"
                );
                for b in &list {
                    out.push_str(&format!(
                        "{:<10} {:<32} {:<32} {:<20} {}\n",
                        b.kind.as_str(),
                        b.value,
                        b.issuer.as_deref().unwrap_or("(any)"),
                        b.created_at,
                        b.reason.as_deref().unwrap_or("")
                    ));
                }
                out
            }
        }
    })
}

/// A block as the audit trail names it: `sub alice`, `client_id c1 from https://idp`.
fn blocked(kind: BlockKind, value: &str, issuer: Option<&str>) -> String {
    match issuer {
        Some(i) => format!("{} {value} from {i}", kind.as_str()),
        None => format!("{} {value}", kind.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_oauth(&args(
                "block --sub alice --issuer http://idp/ --reason left"
            )),
            Ok(OAuthCommand::Block {
                kind: BlockKind::Sub,
                value: "alice".into(),
                issuer: Some("http://idp".into()),
                reason: Some("left".into()),
            })
        );
        assert_eq!(
            parse_oauth(&args("unblock --client-id c1")),
            Ok(OAuthCommand::Unblock {
                kind: BlockKind::ClientId,
                value: "c1".into(),
                issuer: None,
            })
        );
        assert_eq!(parse_oauth(&args("blocks")), Ok(OAuthCommand::Blocks));
        for bad in [
            "block",
            "block --sub a --client-id b",
            "unblock --sub a --reason x",
            "blocks --sub a",
            "nope",
            "",
        ] {
            assert!(parse_oauth(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
