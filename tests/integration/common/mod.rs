//! Test harness: the real router on port 0, over a fresh SQLite file or a fresh PostgreSQL
//! database on the throwaway server `scripts/test.sh` starts.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, path::PathBuf};

use trustline::{
    AppState, app,
    config::{RawSettings, Secret, Settings},
    tenants::{Scope, Sector, TenantId, service},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub state: AppState,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The first instance owns the temp dir; a second instance shares it.
    _dir: Option<tempfile::TempDir>,
}

/// URL of the throwaway PostgreSQL server. Absent only when someone runs `cargo test` by hand
/// without `scripts/test.sh`: then PostgreSQL tests fail loudly rather than pass unseen.
pub fn postgres_server_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .expect("TEST_POSTGRES_URL is unset: run the suite with scripts/test.sh")
}

async fn fresh_postgres_database() -> String {
    use sqlx::Connection as _;
    let server = postgres_server_url();
    let name = format!("t_{}", hex_id());
    let mut conn = sqlx::PgConnection::connect(&server)
        .await
        .expect("connect to test PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
    format!("{base}/{name}")
}

/// The shipped models, verified and loaded once per test binary.
pub fn shared_models() -> std::sync::Arc<trustline::biometrics::models::ModelRegistry> {
    static MODELS: std::sync::OnceLock<
        std::sync::Arc<trustline::biometrics::models::ModelRegistry>,
    > = std::sync::OnceLock::new();
    MODELS
        .get_or_init(|| {
            let s = RawSettings::default().validate().expect("defaults");
            std::sync::Arc::new(
                trustline::biometrics::models::ModelRegistry::load(
                    &s.onnxruntime_library,
                    &s.models_dir,
                    trustline::biometrics::models::LoadOptions::default(),
                )
                .expect("shipped models load"),
            )
        })
        .clone()
}

pub fn hex_id() -> String {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 8];
    ring::rand::SystemRandom::new().fill(&mut b).unwrap();
    hex::encode(b)
}

pub fn settings_for(dir: &std::path::Path, database_url: String) -> Settings {
    RawSettings {
        data_dir: dir.to_path_buf(),
        database_url: Some(Secret::new(database_url)),
        database_connect_attempts: 2,
        request_body_limit_bytes: 64 * 1024,
        log_format: "pretty".into(),
        ..RawSettings::default()
    }
    .validate()
    .expect("test settings are valid")
}

/// Settings for tests whose webhook receiver listens on loopback: the operator allow-list
/// (`webhook_allow_private`) lets 127.0.0.0/8 through the SSRF guard.
pub fn allow_loopback_webhooks(mut s: Settings) -> Settings {
    s.webhook_allow_private =
        trustline::factors::webhook_guard::AllowList::parse(&["127.0.0.0/8".into()])
            .expect("valid allow-list");
    s
}

pub fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("trustline.db").display())
}

impl TestApp {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |s| s).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(Settings) -> Settings) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => sqlite_url(dir.path()),
            Backend::Postgres => fresh_postgres_database().await,
        };
        let settings = adjust(settings_for(dir.path(), url));
        let mut app = Self::serve(settings).await;
        app._dir = Some(dir);
        app
    }

    /// Another instance of the service on the same database and data dir (its own pools,
    /// ledger writer and event hub), as a second replica behind a load balancer would be.
    pub async fn second_instance(&self) -> Self {
        Self::serve((*self.state.settings).clone()).await
    }

    async fn serve(settings: trustline::config::Settings) -> Self {
        let state = AppState::build_with_models(settings, Some(shared_models()))
            .await
            .expect("state builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind port 0");
        let addr = listener.local_addr().expect("addr");
        let router = app(state.clone());
        // The listener `serve` uses, with its connection limits.
        let limits = trustline::http::limits::ConnectionLimits::from_settings(&state.settings);
        tokio::spawn(async move {
            trustline::http::limits::serve(listener, router, limits, std::future::pending())
                .await
                .expect("server runs");
        });
        Self {
            state,
            addr,
            client: reqwest::Client::new(),
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.state.settings.data_dir.clone()
    }

    /// Create a tenant and a key with the given scopes; returns the key text.
    pub async fn tenant_with_key(&self, id: &str, sector: Sector, scopes: &[Scope]) -> String {
        let tenant = match service::create_tenant(&self.state.db, id, id, sector).await {
            Ok(t) => t.tenant_id,
            Err(service::AdminError::TenantExists(_)) => id.parse::<TenantId>().unwrap(),
            Err(e) => panic!("{e}"),
        };
        let (_, key) = service::issue_key(&self.state.db, &tenant, scopes, "test")
            .await
            .expect("key");
        key.to_string()
    }

    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    pub async fn put_json(
        &self,
        path: &str,
        key: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(
        &self,
        path: &str,
        key: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, key: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }
}

/// Assert a problem+json response with the given status and code; returns the body.
pub async fn expect_problem(resp: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status, "status");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: serde_json::Value = resp.json().await.expect("json body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

/// Run one async test body against both backends, as two tests; optionally with settings
/// adjusted (`settings = |s| Settings { .. }`).
#[macro_export]
macro_rules! both_backends {
    ($name:ident, settings = $adjust:expr, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app =
                    $crate::common::TestApp::start_with($crate::common::Backend::Sqlite, $adjust)
                        .await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app =
                    $crate::common::TestApp::start_with($crate::common::Backend::Postgres, $adjust)
                        .await;
                ($body)(app).await;
            }
        }
    };
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::common::TestApp::start($crate::common::Backend::Sqlite).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::common::TestApp::start($crate::common::Backend::Postgres).await;
                ($body)(app).await;
            }
        }
    };
}

/// What `trustline audit verify` runs, in-process: the database against the keys the master
/// key authenticates, the checkpoint files under the settings' checkpoint dir, and now.
pub async fn audit_verify(
    db: &trustline::store::Db,
    settings: &Settings,
    tenant: &str,
) -> trustline::ledger::verify::VerifyReport {
    let master = trustline::crypto::master::load_or_create(settings).unwrap();
    let signer = trustline::crypto::signing::Signer::load(db, &master)
        .await
        .unwrap();
    let checkpoints = trustline::ledger::publish::CheckpointLog::new(settings, &master).unwrap();
    let evidence = trustline::ledger::verify::Evidence {
        signer: &signer,
        checkpoints: &checkpoints,
        now_ms: trustline::store::now_ms(),
    };
    trustline::audit::verify_tenant(db, &evidence, tenant)
        .await
        .unwrap()
}
