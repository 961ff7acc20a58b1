//! Servers installed from an MCP registry: the server, its source and its namespace
//! membership written in one transaction (nothing is half-installed), and an upgrade's
//! new launch with its source marked for review. What to write is
//! [`crate::registry`]'s decision; this file only writes it.

use deadpool_postgres::GenericClient;
use serde_json::Value;
use uuid::Uuid;

use crate::model::validate::{Invalid, ServerDraft, object};
use crate::model::{Server, Source};
use crate::store::registry::{INSERT_SERVER, Registry, StoreError, UPDATE_SERVER};

/// Records where a server was installed from (in the caller's transaction).
async fn write_source<C: GenericClient>(
    client: &C,
    id: Uuid,
    source: &Source,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE mcp_servers SET source_registry = $2, source_name = $3, source_version = $4,
                 source_review = $5, source_allow_private = $6 WHERE id = $1",
            &[
                &id,
                &source.registry,
                &source.name,
                &source.version,
                &source.review,
                &source.allow_private,
            ],
        )
        .await?;
    Ok(())
}

impl Registry {
    /// Creates a server from `body` (as `POST /api/v1/mcp/servers` takes it) with its
    /// source, appended to `namespace`'s servers when given; all or nothing.
    pub async fn create_installed(
        &self,
        body: &Value,
        source: &Source,
        namespace: Option<&str>,
    ) -> Result<Server, StoreError> {
        let mut draft = ServerDraft::default();
        draft.apply(object(body)?, None)?;
        draft.validate()?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let id = Uuid::new_v4();
        self.write_server(&tx, INSERT_SERVER, id, &draft).await?;
        write_source(&tx, id, source).await?;
        if let Some(ns) = namespace {
            let added = tx
                .execute(
                    "INSERT INTO namespace_servers (namespace, server_id, position)
                     SELECT n.name, $2, coalesce((SELECT max(position) + 1
                         FROM namespace_servers WHERE namespace = n.name), 0)
                     FROM namespaces n WHERE n.name = $1",
                    &[&ns, &id],
                )
                .await?;
            if added == 0 {
                return Err(StoreError::Invalid(Invalid::field(
                    "namespace",
                    format!("no namespace {ns:?}"),
                )));
            }
        }
        let server = self.find_server(&tx, &id.to_string(), false).await?;
        tx.commit().await?;
        Ok(server)
    }

    /// Replaces an installed server's launch (or URL) by `body`'s and its source by
    /// `source`, in one transaction.
    pub async fn upgrade_installed(
        &self,
        id: Uuid,
        body: &Value,
        source: &Source,
    ) -> Result<Server, StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let existing = self.find_server(&tx, &id.to_string(), true).await?;
        let mut draft = ServerDraft::from(&existing);
        draft.apply(object(body)?, Some(&existing))?;
        draft.validate()?;
        self.write_server(&tx, UPDATE_SERVER, id, &draft).await?;
        write_source(&tx, id, source).await?;
        if draft.origin_moved {
            // Tokens were issued for the old origin (RFC 8707): none follows the remote.
            for table in ["upstream_tokens", "upstream_pending"] {
                tx.execute(&format!("DELETE FROM {table} WHERE server_id = $1"), &[&id])
                    .await?;
            }
        }
        let server = self.find_server(&tx, &id.to_string(), false).await?;
        tx.commit().await?;
        Ok(server)
    }
}
