//! Schema migrations: the numbered SQL files in `sql/`, applied in order, each in its own
//! transaction, recorded in `schema_migrations`, under an advisory lock so that processes
//! starting together apply each migration exactly once.

use tokio_postgres::Client;

use crate::store::db::DbError;

/// One migration file, compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. A test checks this matches the files in `sql/`.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../sql/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_ended_sessions",
        sql: include_str!("../../sql/0002_ended_sessions.sql"),
    },
    Migration {
        version: 3,
        name: "0003_stdio_options",
        sql: include_str!("../../sql/0003_stdio_options.sql"),
    },
    Migration {
        version: 4,
        name: "0004_idle_stop",
        sql: include_str!("../../sql/0004_idle_stop.sql"),
    },
    Migration {
        version: 5,
        name: "0005_isolation",
        sql: include_str!("../../sql/0005_isolation.sql"),
    },
    Migration {
        version: 6,
        name: "0006_overrides_by_server",
        sql: include_str!("../../sql/0006_overrides_by_server.sql"),
    },
    Migration {
        version: 7,
        name: "0007_key_calls",
        sql: include_str!("../../sql/0007_key_calls.sql"),
    },
    Migration {
        version: 8,
        name: "0008_key_limits",
        sql: include_str!("../../sql/0008_key_limits.sql"),
    },
    Migration {
        version: 9,
        name: "0009_circuit_breaker",
        sql: include_str!("../../sql/0009_circuit_breaker.sql"),
    },
    Migration {
        version: 10,
        name: "0010_audit",
        sql: include_str!("../../sql/0010_audit.sql"),
    },
    Migration {
        version: 11,
        name: "0011_import_source",
        sql: include_str!("../../sql/0011_import_source.sql"),
    },
    Migration {
        version: 12,
        name: "0012_oauth_blocks",
        sql: include_str!("../../sql/0012_oauth_blocks.sql"),
    },
    Migration {
        version: 13,
        name: "0013_resource_subscriptions",
        sql: include_str!("../../sql/0013_resource_subscriptions.sql"),
    },
    Migration {
        version: 14,
        name: "0014_tasks",
        sql: include_str!("../../sql/0014_tasks.sql"),
    },
    Migration {
        version: 15,
        name: "0015_upstream_auth",
        sql: include_str!("../../sql/0015_upstream_auth.sql"),
    },
    Migration {
        version: 16,
        name: "0016_server_status",
        sql: include_str!("../../sql/0016_server_status.sql"),
    },
    Migration {
        version: 17,
        name: "0017_validate_arguments",
        sql: include_str!("../../sql/0017_validate_arguments.sql"),
    },
    Migration {
        version: 18,
        name: "0018_tool_search",
        sql: include_str!("../../sql/0018_tool_search.sql"),
    },
    Migration {
        version: 19,
        name: "0019_tool_embeddings",
        sql: include_str!("../../sql/0019_tool_embeddings.sql"),
    },
    Migration {
        version: 20,
        name: "0020_shared_limits",
        sql: include_str!("../../sql/0020_shared_limits.sql"),
    },
    Migration {
        version: 21,
        name: "0021_tool_pins",
        sql: include_str!("../../sql/0021_tool_pins.sql"),
    },
    Migration {
        version: 22,
        name: "0022_policies",
        sql: include_str!("../../sql/0022_policies.sql"),
    },
    Migration {
        version: 23,
        name: "0023_limits_clock",
        sql: include_str!("../../sql/0023_limits_clock.sql"),
    },
    Migration {
        version: 24,
        name: "0024_guardrails",
        sql: include_str!("../../sql/0024_guardrails.sql"),
    },
    Migration {
        version: 25,
        name: "0025_tool_pinned_servers",
        sql: include_str!("../../sql/0025_tool_pinned_servers.sql"),
    },
    Migration {
        version: 26,
        name: "0026_confirm_uses",
        sql: include_str!("../../sql/0026_confirm_uses.sql"),
    },
    Migration {
        version: 27,
        name: "0027_audit_reason",
        sql: include_str!("../../sql/0027_audit_reason.sql"),
    },
    Migration {
        version: 28,
        name: "0028_namespace_allow_list",
        sql: include_str!("../../sql/0028_namespace_allow_list.sql"),
    },
    Migration {
        version: 29,
        name: "0029_server_source",
        sql: include_str!("../../sql/0029_server_source.sql"),
    },
    Migration {
        version: 30,
        name: "0030_dpop",
        sql: include_str!("../../sql/0030_dpop.sql"),
    },
    Migration {
        version: 31,
        name: "0031_namespace_code_mode",
        sql: include_str!("../../sql/0031_namespace_code_mode.sql"),
    },
    Migration {
        version: 32,
        name: "0032_audit_parent",
        sql: include_str!("../../sql/0032_audit_parent.sql"),
    },
    Migration {
        version: 33,
        name: "0033_policy_mode",
        sql: include_str!("../../sql/0033_policy_mode.sql"),
    },
    Migration {
        version: 34,
        name: "0034_source_allow_private",
        sql: include_str!("../../sql/0034_source_allow_private.sql"),
    },
    Migration {
        version: 35,
        name: "0035_search_learning",
        sql: include_str!("../../sql/0035_search_learning.sql"),
    },
];

/// Advisory lock key: "metamcp" in ASCII, so it will not collide with another app's.
const LOCK_KEY: i64 = 0x006d_6574_616d_6370;

/// Where the schema stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Highest applied version (0 for an empty database).
    pub current: i32,
    /// Migrations this binary would apply.
    pub pending: Vec<&'static str>,
}

/// Applies every pending migration; returns the names applied by this call.
pub async fn run(client: &mut Client) -> Result<Vec<&'static str>, DbError> {
    run_to(client, latest()).await
}

/// Applies the pending migrations up to `version` (tests of a migration's data
/// conversion start from the schema before it).
pub async fn run_to(client: &mut Client, version: i32) -> Result<Vec<&'static str>, DbError> {
    client
        .query_one("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    let result = apply_pending(client, version).await;
    // The lock also ends with the session; unlocking keeps a pooled session clean.
    let unlocked = client
        .query_one("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply_pending(client: &mut Client, up_to: i32) -> Result<Vec<&'static str>, DbError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
    let current = current_version(client).await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= up_to)
    {
        let tx = client.transaction().await?;
        tx.batch_execute(m.sql)
            .await
            .map_err(|source| DbError::Migration {
                name: m.name,
                source,
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(migration = m.name, "applied migration");
        applied.push(m.name);
    }
    Ok(applied)
}

async fn current_version(client: &Client) -> Result<i32, DbError> {
    let row = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?;
    let found: i32 = row.get(0);
    let known = latest();
    if found > known {
        return Err(DbError::SchemaTooNew { found, known });
    }
    Ok(found)
}

/// The newest version this binary knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Reports the schema version without changing anything.
pub async fn status(client: &Client) -> Result<SchemaStatus, DbError> {
    let exists = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get::<_, bool>(0);
    let current = if exists {
        current_version(client).await?
    } else {
        0
    };
    Ok(SchemaStatus {
        current,
        pending: MIGRATIONS
            .iter()
            .filter(|m| m.version > current)
            .map(|m| m.name)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sql_file_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("sql/ exists")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(files, listed);
        // Versions increase, each named by its number. (0029 belongs to a branch not yet
        // merged beside this one, which was given 0030: once both are in, the list is
        // 1, 2, 3, … again, and this may go back to asking for exactly that.)
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "versions increase");
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            last = m.version;
        }
    }
}
