//! trustline: passive, consent-first customer recognition for contact centres.
//!
//! The library exposes [`app`] (the whole HTTP service as an axum `Router`) and [`AppState`],
//! so tests drive the real router in-process; `main.rs` only parses the command line.

pub mod audit;
pub mod background;
pub mod biometrics;
pub mod cli;
pub mod config;
pub mod consent;
pub mod crypto;
pub mod eval;
pub mod factors;
pub mod http;
pub mod ledger;
pub mod oidc;
pub mod passkeys;
pub mod policy;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod witness;

use std::sync::Arc;

pub use http::app;

use biometrics::models::{LoadOptions, ModelError, ModelRegistry};
use config::Settings;
use crypto::{
    envelope::MasterKey,
    signing::{Signer, SigningError},
};
use ledger::Ledger;
use store::{ConnectOptions, Db, StoreError};

/// Everything a request handler may touch. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub models: Arc<ModelRegistry>,
    pub master_key: Arc<MasterKey>,
    /// Sector policies and tenant tightenings, validated at start-up.
    pub policies: Arc<policy::PolicySet>,
    pub signer: Arc<Signer>,
    /// Biometric scorers by modality (registered by the voice and keystroke services).
    pub scorers: Arc<biometrics::scorer::ScorerRegistry>,
    /// The per-tenant tamper-evident log (one writer task per process, group commit; new
    /// sessions commit in its batches too: `Ledger::append_with`).
    pub ledger: Arc<Ledger>,
    /// Consent purposes and notices (from `policies/consent/`) and the session events hub.
    pub consents: Arc<consent::service::Consents>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Live voice streams of this process (one per session) and their events hub.
    pub voice_streams: Arc<biometrics::voice::live::StreamRegistry>,
    /// Argon2 (PIN) work, at most `argon2_max_concurrent` at once.
    pub password_hashing: Arc<factors::hashing::HashPool>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Models(#[from] ModelError),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("policies: {0}")]
    Policy(#[from] policy::PolicyError),
    #[error("consent policies: {0}")]
    Consent(#[from] consent::catalogue::CatalogueError),
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error(transparent)]
    Checkpoint(#[from] ledger::publish::PublishError),
}

impl AppState {
    /// Connect (with retries), migrate, verify and load models, load the master key.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_models(settings, None).await
    }

    /// As [`AppState::build`], reusing an already loaded registry (tests share one: loading
    /// every model per test would dominate the suite's time).
    pub async fn build_with_models(
        settings: Settings,
        models: Option<Arc<ModelRegistry>>,
    ) -> Result<Self, StartupError> {
        // Policies first: a bad policy file should fail start-up before anything else happens.
        let policies = policy::PolicySet::load_dir(&settings.policies_dir)?;
        let db = Db::connect(
            settings.database_url.expose(),
            ConnectOptions {
                max_connections: settings.database_max_connections,
                attempts: settings.database_connect_attempts,
                ..ConnectOptions::default()
            },
        )
        .await?;
        db.migrate().await?;
        // The history of policies in force, so any past decision's policy hash can be read.
        store::policies::record_loaded(&db, policies.all().map(|p| p.as_ref())).await?;
        let models = match models {
            Some(models) => models,
            None => Arc::new(load_models(&settings).await?),
        };
        let master_key =
            crypto::master::load_or_create(&settings).map_err(StartupError::MasterKey)?;
        let signer = Signer::load(&db, &master_key).await?;
        let signer = Arc::new(signer);
        let checkpoints = Arc::new(ledger::publish::CheckpointLog::new(&settings, &master_key)?);
        let ledger = Ledger::start_publishing(db.clone(), signer.clone(), checkpoints);
        let consents = Arc::new(consent::service::Consents::load(&settings.policies_dir)?);
        let scorers = Arc::new(biometrics::scorer::ScorerRegistry::default());
        biometrics::keystroke::service::register_scorers(&scorers, &models);
        biometrics::voice::scorer::register_scorer(&scorers, &models);
        let settings_argon2_max_concurrent = settings.argon2_max_concurrent;
        Ok(Self {
            settings: Arc::new(settings),
            db,
            models,
            master_key: Arc::new(master_key),
            policies: Arc::new(policies),
            scorers,
            signer,
            ledger,
            consents,
            metrics: telemetry::metrics_handle(),
            voice_streams: Arc::default(),
            password_hashing: Arc::new(factors::hashing::HashPool::new(
                settings_argon2_max_concurrent,
            )),
        })
    }
}

/// Model loading reads and hashes files and builds sessions: blocking work, off the runtime.
pub async fn load_models(settings: &Settings) -> Result<ModelRegistry, ModelError> {
    let library = settings.onnxruntime_library.clone();
    let dir = settings.models_dir.clone();
    tokio::task::spawn_blocking(move || ModelRegistry::load(&library, &dir, LoadOptions::default()))
        .await
        .map_err(|e| ModelError::Load {
            id: "*".into(),
            path: settings.models_dir.clone(),
            reason: e.to_string(),
        })?
}
