//! `keyadm status`: the database, the schema and the keys, as text or JSON.

use serde_json::json;

use crate::config::{self, Config};
use crate::store::db::{Database, DbError};
use crate::store::migrate;

use super::KeyadmError;
use super::text::line;

pub(super) async fn status(
    config: &Config,
    db: &Database,
    json: bool,
) -> Result<String, KeyadmError> {
    let client = db.connect().await?;
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .map_err(DbError::from)?
        .get(0);
    let schema = migrate::status(&client).await?;
    let counts = if schema.current > 0 {
        let row = client
            .query_one(
                "SELECT count(*) FILTER (WHERE is_active AND NOT coalesce(expires_at <= now(), false)),
                        count(*) FILTER (WHERE NOT is_active),
                        count(*) FILTER (WHERE is_active AND expires_at <= now())
                 FROM api_keys",
                &[],
            )
            .await
            .map_err(DbError::from)?;
        Some((
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
        ))
    } else {
        None
    };
    let (mode, location) = match &db.cluster {
        Some(c) => (
            "embedded",
            format!(
                "{} (socket in {})",
                c.pgdata().display(),
                c.socket_dir().display()
            ),
        ),
        None => ("external", describe_external(config)),
    };
    if json {
        return Ok(line(json!({
            "database": {"mode": mode, "location": location, "server_version": version},
            "schema": {"version": schema.current, "latest": migrate::latest(), "pending": schema.pending},
            "keys": counts.map(|(a, i, e)| json!({"active": a, "inactive": i, "expired": e})),
        })));
    }
    let schema_line = if schema.pending.is_empty() {
        format!("version {} (up to date)", schema.current)
    } else {
        format!(
            "version {}, pending: {} (run `keyadm migrate`)",
            schema.current,
            schema.pending.join(", ")
        )
    };
    let keys_line = match counts {
        Some((a, i, e)) => format!("{a} active, {i} inactive, {e} expired"),
        None => "no schema yet".to_string(),
    };
    Ok(format!(
        "database  {mode}: {location}\nserver    PostgreSQL {version}\nschema    {schema_line}\nkeys      {keys_line}\n"
    ))
}

/// Host and database of an external URL, never its password.
fn describe_external(config: &Config) -> String {
    let config::Database::Url(pg) = &config.database else {
        return String::new();
    };
    let host = pg
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    format!(
        "{host}/{}{}",
        pg.get_dbname().unwrap_or_default(),
        pg.get_user()
            .map(|u| format!(" as {u}"))
            .unwrap_or_default()
    )
}
