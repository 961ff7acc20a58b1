//! The database: an external server (`DATABASE_URL`) or the embedded cluster, a pool over it.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::config::{self, Config};
use crate::store::embedded::{self, Cluster, EmbeddedError};

/// The channel every change to keys, servers and namespaces is announced on.
pub const CHANGES_CHANNEL: &str = "metamcp_changes";

/// Database failures, each saying what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("embedded PostgreSQL: {0}")]
    Embedded(#[from] EmbeddedError),
    #[error("cannot connect to PostgreSQL: {}", said(.0))]
    Connect(#[source] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database query failed: {}", said(.0))]
    Query(#[from] tokio_postgres::Error),
    #[error(
        "the database schema is at version {found}, newer than this binary knows ({known}): upgrade metamcp"
    )]
    SchemaTooNew { found: i32, known: i32 },
    #[error("migration {name} failed: {}", said(.source))]
    Migration {
        name: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("the embedded cluster task failed: {0}")]
    Task(String),
}

/// What PostgreSQL said: tokio-postgres displays a server's error as "db error" alone
/// and keeps the server's message as its source; a log line needs the message (a
/// constraint that failed, a deadlock, a column missing), and its SQLSTATE.
fn said(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} {}: {}", db.severity(), db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// What a database error says about whose fault it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFault {
    /// The database refused a value it was given (SQLSTATE class 22, data exception):
    /// the caller's input, which validation should have caught first.
    Data,
    /// The database cannot be reached or is going away (no connection, class 08, 53,
    /// 57): an outage.
    Unavailable,
    /// Anything else: a query the gateway got wrong.
    Internal,
}

impl DbError {
    /// A row named another that is gone (SQLSTATE 23503): a server removed while
    /// something of its own was being written.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, DbError::Query(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION))
    }

    /// Whose fault this error is, by its SQLSTATE class.
    pub fn fault(&self) -> DbFault {
        let e = match self {
            DbError::Query(e) | DbError::Migration { source: e, .. } => e,
            DbError::Connect(_) | DbError::Pool(_) | DbError::Embedded(_) | DbError::Task(_) => {
                return DbFault::Unavailable;
            }
            DbError::SchemaTooNew { .. } => return DbFault::Internal,
        };
        match e.code().map(|c| c.code()) {
            // No SQLSTATE: the connection broke or closed.
            None => DbFault::Unavailable,
            Some(c) if c.starts_with("22") => DbFault::Data,
            Some(c) if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
                DbFault::Unavailable
            }
            Some(_) => DbFault::Internal,
        }
    }
}

/// An open database.
#[derive(Clone)]
pub struct Database {
    /// Every query goes through the pool.
    pub pool: Pool,
    /// Connection settings, for connections outside the pool (LISTEN).
    pub pg: tokio_postgres::Config,
    /// The embedded cluster, when that is what we run on.
    pub cluster: Option<Cluster>,
    /// This process's use of the embedded cluster, given up by [`Database::close`].
    using: Option<std::sync::Arc<std::sync::Mutex<Option<embedded::ClusterUse>>>>,
}

impl Database {
    /// Opens the configured database, creating and starting the embedded cluster if
    /// that is the mode (the gateway), and checks that a connection can be made.
    pub async fn open(config: &Config) -> Result<Database, DbError> {
        Self::open_with(config, true).await
    }

    /// Opens the configured database; an embedded cluster must exist already (it is
    /// started if stopped). For keyadm, which never creates one.
    pub async fn open_existing(config: &Config) -> Result<Database, DbError> {
        Self::open_with(config, false).await
    }

    async fn open_with(config: &Config, create: bool) -> Result<Database, DbError> {
        let (pg, cluster, using) = match &config.database {
            config::Database::Url(pg) => ((**pg).clone(), None, None),
            config::Database::Embedded => {
                let cluster = Cluster::locate(&config.data_dir)?;
                let c = cluster.clone();
                let using = tokio::task::spawn_blocking(move || c.open_for_use(create))
                    .await
                    .map_err(|e| DbError::Task(e.to_string()))??;
                if create {
                    create_database_if_missing(&cluster, embedded::DATABASE).await?;
                }
                (
                    cluster.pg_config(embedded::DATABASE),
                    Some(cluster),
                    Some(std::sync::Arc::new(std::sync::Mutex::new(Some(using)))),
                )
            }
        };
        let pool = make_pool(pg.clone(), config.db_pool_size);
        drop(pool.get().await?);
        Ok(Database {
            pool,
            pg,
            cluster,
            using,
        })
    }

    /// Done with the database: the pool closes, and an embedded cluster this process
    /// used is stopped when no other metamcp process uses it.
    pub async fn close(&self) {
        self.pool.close();
        let using = self
            .using
            .as_ref()
            .and_then(|u| u.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(u) = using {
            match tokio::task::spawn_blocking(move || u.leave()).await {
                Ok(Ok(true)) => {
                    tracing::info!("embedded PostgreSQL stopped (no other metamcp process uses it)")
                }
                Ok(Ok(false)) => tracing::info!(
                    "embedded PostgreSQL left running for the other metamcp processes using it"
                ),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not stop embedded PostgreSQL"),
                Err(e) => tracing::warn!(error = %e, "could not stop embedded PostgreSQL"),
            }
        }
    }

    /// A dedicated connection outside the pool; its driver runs on a spawned task.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, DbError> {
        connect(&self.pg).await
    }
}

/// A pool of at most `size` connections, recycled with a cheap check.
pub fn make_pool(pg: tokio_postgres::Config, size: usize) -> Pool {
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // build() only fails without a runtime or with a zero size, neither of which we allow.
    match Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
    {
        Ok(pool) => pool,
        Err(e) => unreachable!("pool with a runtime and a positive size: {e}"),
    }
}

/// Connects once, spawning the connection's driver.
pub async fn connect(pg: &tokio_postgres::Config) -> Result<tokio_postgres::Client, DbError> {
    let (client, connection) = pg.connect(NoTls).await.map_err(DbError::Connect)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}

/// `CREATE DATABASE` unless it exists; two processes racing here both succeed.
pub async fn create_database_if_missing(cluster: &Cluster, name: &str) -> Result<(), DbError> {
    let admin = connect(&cluster.pg_config("postgres")).await?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match admin.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        Err(e)
            if e.code() == Some(&SqlState::DUPLICATE_DATABASE)
                || e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
