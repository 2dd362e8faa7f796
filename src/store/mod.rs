//! Storage: one pool, two backends, SQL written once.
//!
//! Queries go through sqlx's `Any` driver with `$1`-style placeholders, which both SQLite and
//! PostgreSQL accept, so each query exists once. Times are stored as BIGINT milliseconds since
//! the Unix epoch for the same reason. Where the backends must differ (pragmas, locking for log
//! appends), the branch is on `Backend` in one visible place.

pub mod api_keys;
pub mod audit;
pub mod batch;
pub mod bench;
pub mod brands;
pub mod consents;
pub mod customer_links;
pub mod customers;
pub mod factors;
pub mod ledger;
pub mod lockout;
pub mod passkeys;
pub mod policies;
pub mod rate_limits;
pub mod sessions;
pub mod signing_keys;
pub mod templates;
pub mod tenants;
pub mod web;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    AnyPool, Executor,
    any::{AnyConnectOptions, AnyPoolOptions},
    migrate::Migrator,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database is unreachable after {attempts} attempts: {reason}")]
    Unreachable { attempts: u32, reason: String },
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("record already exists")]
    Duplicate,
    /// An optimistic write found the row changed since it was read.
    #[error("the record changed since it was read")]
    Stale,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Map a unique-constraint violation to `Duplicate`, in one place for both backends.
    pub fn from_insert(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err
            && db.is_unique_violation()
        {
            return StoreError::Duplicate;
        }
        StoreError::Database(err)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub attempts: u32,
    pub first_backoff: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            attempts: 8,
            first_backoff: Duration::from_millis(250),
        }
    }
}

impl Db {
    /// Connect, retrying with exponential backoff (a database that starts after us is normal in
    /// deployments); after the last attempt, a clear error.
    pub async fn connect(url: &str, options: ConnectOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        if backend == Backend::Sqlite {
            ensure_sqlite_parent(url);
        }
        let connect_options =
            AnyConnectOptions::from_str(url).map_err(|e| StoreError::Unreachable {
                attempts: 0,
                reason: e.to_string(),
            })?;
        if backend == Backend::Sqlite {
            // WAL for concurrent readers beside the one writer. It is a property of the file,
            // set once on a lone connection before the pool opens any: switching needs an
            // exclusive lock that a busy timeout cannot wait for.
            use sqlx::Connection as _;
            let unreachable = |e: sqlx::Error| StoreError::Unreachable {
                attempts: 1,
                reason: e.to_string(),
            };
            let mut conn = sqlx::AnyConnection::connect_with(&connect_options)
                .await
                .map_err(unreachable)?;
            conn.execute("PRAGMA journal_mode=WAL")
                .await
                .map_err(unreachable)?;
            conn.close().await.map_err(unreachable)?;
        }
        let mut backoff = options.first_backoff;
        let mut last_error = String::new();
        for attempt in 1..=options.attempts.max(1) {
            // SQLite: keep every connection open for the pool's life, and never open one while
            // another writes or checkpoints: connections opened mid-load intermittently failed
            // with SQLITE_CANTOPEN (code 14) in WAL mode. Opening them is cheap.
            let min_connections = match backend {
                Backend::Sqlite => options.max_connections,
                Backend::Postgres => 0,
            };
            let pool_options = AnyPoolOptions::new()
                .max_connections(options.max_connections)
                .min_connections(min_connections)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            // FULL so a commit is on disk before it is acknowledged; wait rather
                            // than fail on a busy writer. (WAL is set once, below: it is a
                            // property of the file, and switching needs an exclusive lock that a
                            // busy timeout cannot wait for.)
                            conn.execute(
                                "PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;",
                            )
                            .await?;
                        }
                        Ok(())
                    })
                });
            match pool_options.connect_with(connect_options.clone()).await {
                Ok(pool) => {
                    return Ok(Self { pool, backend });
                }
                Err(e) => {
                    last_error = e.to_string();
                    tracing::warn!(
                        attempt,
                        backoff_ms = backoff.as_millis() as u64,
                        "database not reachable yet"
                    );
                    if attempt < options.attempts {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        }
        Err(StoreError::Unreachable {
            attempts: options.attempts,
            reason: redact_url_in(&last_error),
        })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Readiness: one round trip.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Create the folder of an SQLite file so the default works on a fresh machine.
fn ensure_sqlite_parent(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// Driver errors may quote the URL, password included; keep only what follows the host.
fn redact_url_in(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in message.split(' ') {
        if let Some(at) = word.find('@').filter(|_| word.contains("://")) {
            let scheme_end = word.find("://").map(|i| i + 3).unwrap_or(0);
            out.push_str(&word[..scheme_end]);
            out.push_str("***");
            out.push_str(&word[at..]);
        } else {
            out.push_str(word);
        }
        out.push(' ');
    }
    out.trim_end().to_string()
}

/// Milliseconds since the Unix epoch: the one time representation in the database.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_in_errors_lose_their_credentials() {
        let s = super::redact_url_in("cannot reach postgres://app:hunter2@db:5432/x now");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("postgres://***@db:5432/x"), "{s}");
    }
}
