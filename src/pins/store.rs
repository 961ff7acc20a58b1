//! Pins and held items in PostgreSQL (`sql/0021_tool_pins.sql`); every write is
//! announced by the tables' triggers, so every replica reloads its [`super::Book`].

use deadpool_postgres::Pool;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Held, Item, Review, canon};
use crate::store::db::DbError;

type Key = (Uuid, Item, String);

/// What [`load`] reads: every pin's digest, every held item, the servers pinned.
pub type Loaded = (Vec<(Key, String)>, Vec<(Key, Held)>, Vec<Uuid>);

/// Every pin's digest, every held item (definitions stay in the database), and every
/// server whose lists were pinned, an empty list included (`tool_pinned_servers`).
pub async fn load(pool: &Pool) -> Result<Loaded, DbError> {
    let client = pool.get().await?;
    let mut pins = Vec::new();
    for r in client
        .query("SELECT server_id, kind, name, digest FROM tool_pins", &[])
        .await?
    {
        if let Some(item) = Item::parse(r.try_get(1)?) {
            pins.push(((r.try_get(0)?, item, r.try_get(2)?), r.try_get(3)?));
        }
    }
    let mut held = Vec::new();
    for r in client
        .query(
            "SELECT server_id, kind, name, review, digest, findings, rejected FROM tool_reviews",
            &[],
        )
        .await?
    {
        let (Some(item), Some(review)) = (Item::parse(r.try_get(1)?), Review::parse(r.try_get(3)?))
        else {
            continue;
        };
        let findings: Value = r.try_get(5)?;
        held.push((
            (r.try_get(0)?, item, r.try_get(2)?),
            Held {
                review,
                digest: r.try_get(4)?,
                findings: findings
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|f| f.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                rejected: r.try_get(6)?,
                seen: std::time::Instant::now(),
                rewritten: false,
            },
        ));
    }
    let mut servers = Vec::new();
    for r in client
        .query("SELECT server_id FROM tool_pinned_servers", &[])
        .await?
    {
        servers.push(r.try_get(0)?);
    }
    Ok((pins, held, servers))
}

/// One write of a reconcile pass.
pub enum Write<'a> {
    /// Pins `definition` (its canonical form), ending any hold. `first`: only when no pin
    /// exists (first sight, where another replica may have pinned first).
    Pin {
        item: Item,
        name: &'a str,
        definition: &'a Value,
        first: bool,
    },
    /// Holds `definition`.
    Hold {
        item: Item,
        name: &'a str,
        definition: &'a Value,
        review: Review,
        findings: Vec<String>,
    },
    /// The server offers its pinned definition again: nothing is held.
    Release { item: Item, name: &'a str },
    /// The server's lists are pinned, whatever they hold (an empty list too): what it
    /// offers later is a new item of a pinned server.
    Server,
}

/// Applies one server's writes in one transaction.
pub async fn apply(pool: &Pool, server: Uuid, writes: &[Write<'_>]) -> Result<(), DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    for w in writes {
        match w {
            Write::Pin {
                item,
                name,
                definition,
                first,
            } => {
                let c = canon::canonical(*item, definition);
                let digest = canon::digest(&c);
                let conflict = match first {
                    true => "DO NOTHING",
                    false => {
                        "DO UPDATE SET digest = EXCLUDED.digest, definition = EXCLUDED.definition, pinned_at = now()"
                    }
                };
                tx.execute(
                    &format!(
                        "INSERT INTO tool_pins (server_id, kind, name, digest, definition)
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server_id, kind, name) {conflict}"
                    ),
                    &[&server, &item.as_str(), name, &digest, &c],
                )
                .await?;
                tx.execute(
                    "DELETE FROM tool_reviews WHERE server_id = $1 AND kind = $2 AND name = $3",
                    &[&server, &item.as_str(), name],
                )
                .await?;
            }
            Write::Hold {
                item,
                name,
                definition,
                review,
                findings,
            } => {
                let c = canon::canonical(*item, definition);
                let digest = canon::digest(&c);
                tx.execute(
                    "INSERT INTO tool_reviews (server_id, kind, name, review, digest, definition, findings)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (server_id, kind, name) DO UPDATE SET review = EXCLUDED.review,
                         digest = EXCLUDED.digest, definition = EXCLUDED.definition,
                         findings = EXCLUDED.findings, rejected = false, held_at = now()
                     WHERE tool_reviews.digest <> EXCLUDED.digest",
                    &[&server, &item.as_str(), name, &review.as_str(), &digest, &c, &json!(findings)],
                )
                .await?;
            }
            Write::Release { item, name } => {
                tx.execute(
                    "DELETE FROM tool_reviews WHERE server_id = $1 AND kind = $2 AND name = $3",
                    &[&server, &item.as_str(), name],
                )
                .await?;
            }
            Write::Server => {
                tx.execute(
                    "INSERT INTO tool_pinned_servers (server_id) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[&server],
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The reviews waiting (rejected ones left out), each with its pinned definition and
/// the difference: `{"server", "tool", "item", "kind", "findings", "before", "after",
/// "diff", "held_at"}`.
pub async fn reviews(pool: &Pool, server: Option<Uuid>) -> Result<Vec<Value>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT s.name, r.kind, r.name, r.review, r.findings, p.definition, r.definition,
                    to_char(r.held_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
             FROM tool_reviews r JOIN mcp_servers s ON s.id = r.server_id
             LEFT JOIN tool_pins p ON p.server_id = r.server_id AND p.kind = r.kind AND p.name = r.name
             WHERE NOT r.rejected AND ($1::uuid IS NULL OR r.server_id = $1)
             ORDER BY lower(s.name), r.kind DESC, r.name",
            &[&server],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let before: Option<Value> = r.try_get(5)?;
        let after: Value = r.try_get(6)?;
        let diff = canon::diff(before.as_ref().unwrap_or(&Value::Null), &after);
        out.push(json!({
            "server": r.try_get::<_, String>(0)?,
            "item": r.try_get::<_, String>(1)?,
            "tool": r.try_get::<_, String>(2)?,
            "kind": r.try_get::<_, String>(3)?,
            "findings": r.try_get::<_, Value>(4)?,
            "before": before,
            "after": after,
            "diff": diff,
            "held_at": r.try_get::<_, String>(7)?,
        }));
    }
    Ok(out)
}

/// Approves (re-pins) or rejects (keeps the old pin) the held items of `server`: those
/// of kind `item` (every kind when `None`), only the one named `name` when given; the
/// items it acted on. A rejected definition is approved only when named (an admin who
/// changes their mind); a decision on the whole server leaves rejected ones alone.
pub async fn decide(
    pool: &Pool,
    server: Uuid,
    item: Option<Item>,
    name: Option<&str>,
    approve: bool,
) -> Result<Vec<(Item, String)>, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let kind = item.map(Item::as_str);
    let named_approval = approve && name.is_some();
    let rows = tx
        .query(
            "SELECT kind, name, digest, definition FROM tool_reviews
             WHERE server_id = $1 AND ($2::text IS NULL OR name = $2)
               AND ($3::text IS NULL OR kind = $3) AND ($4 OR NOT rejected)
             ORDER BY kind DESC, name FOR UPDATE",
            &[&server, &name, &kind, &named_approval],
        )
        .await?;
    if approve && !rows.is_empty() {
        tx.execute(
            "INSERT INTO tool_pinned_servers (server_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&server],
        )
        .await?;
    }
    let mut names = Vec::with_capacity(rows.len());
    for r in &rows {
        let (kind, n): (&str, &str) = (r.try_get(0)?, r.try_get(1)?);
        let Some(item) = Item::parse(kind) else {
            continue;
        };
        if approve {
            tx.execute(
                "INSERT INTO tool_pins (server_id, kind, name, digest, definition)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (server_id, kind, name)
                 DO UPDATE SET digest = EXCLUDED.digest, definition = EXCLUDED.definition,
                               pinned_at = now()",
                &[
                    &server,
                    &kind,
                    &n,
                    &r.try_get::<_, &str>(2)?,
                    &r.try_get::<_, Value>(3)?,
                ],
            )
            .await?;
            tx.execute(
                "DELETE FROM tool_reviews WHERE server_id = $1 AND kind = $2 AND name = $3",
                &[&server, &kind, &n],
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE tool_reviews SET rejected = true
                 WHERE server_id = $1 AND kind = $2 AND name = $3",
                &[&server, &kind, &n],
            )
            .await?;
        }
        names.push((item, n.to_string()));
    }
    if approve && name.is_none() {
        // Approving a whole server ends the review of its registry upgrade
        // (`docs/guides/registry.md`): its `tool_changes` applies again.
        tx.execute(
            "UPDATE mcp_servers SET source_review = false WHERE id = $1 AND source_review",
            &[&server],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(names)
}
