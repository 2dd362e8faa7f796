//! The `trustline` command line: thin wrappers around the library.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::{
    AppState,
    biometrics::models::{LoadOptions, ModelRegistry},
    config::Settings,
    store::{ConnectOptions, Db},
    tenants::{Scope, Sector, TenantId, service},
};

#[derive(Debug, Parser)]
#[command(
    name = "trustline",
    version,
    about = "Passive, consent-first customer recognition"
)]
pub struct Cli {
    /// TOML configuration file (also TRUSTLINE_CONFIG); TRUSTLINE_* variables override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (migrates, verifies models, prints a demo key on a fresh database).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate configuration and print it (secrets redacted).
    CheckConfig,
    /// Verify every model's sha256 and load it into ONNX Runtime.
    CheckModels,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage platform API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(KeyCommand),
    /// Manage the service's signing keys (assertions, grants, receipts, tree heads).
    #[command(subcommand)]
    Keys(SigningKeyCommand),
    /// Check the tamper-evident log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run a witness: cosign checkpoints of the logs it knows (C2SP tlog-witness
    /// `add-checkpoint`), never one that goes backwards or lacks a consistency proof.
    Witness(crate::witness::server::WitnessArgs),
    /// Enforce retention now (expire consents, destroy templates whose purpose or time ended).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Measure accuracy on a corpus.
    #[command(subcommand)]
    Eval(crate::eval::EvalCommand),
    /// Benchmarks (figures printed, never asserted).
    #[command(subcommand)]
    Bench(crate::eval::BenchCommand),
    /// Configure a tenant's OpenID Connect identity providers (console and privacy centre).
    #[command(subcommand)]
    Idp(IdpCommand),
}

#[derive(Debug, Subcommand)]
pub enum IdpCommand {
    /// Set (or replace) the identity provider of a tenant for staff or customers. The client
    /// secret is read from IDP_CLIENT_SECRET (kept out of shell history) and stored sealed
    /// under the master key.
    Set {
        #[arg(long)]
        tenant: String,
        /// staff (compliance console) or customer (privacy centre)
        #[arg(long)]
        realm: String,
        /// Issuer URL; discovery is at <issuer>/.well-known/openid-configuration
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        #[arg(long, env = "IDP_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// Extra scopes beyond openid, comma-separated
        #[arg(long, default_value = "")]
        scopes: String,
        /// Claim holding staff roles (compliance_officer, tenant_admin); dotted paths allowed
        #[arg(long, default_value = "roles")]
        role_claim: String,
        /// Claim holding the customer reference
        #[arg(long, default_value = "customer_ref")]
        customer_claim: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain, tip, customer commitments, tree heads and their signatures;
    /// check the database against the external checkpoints and witness cosignatures (a missing
    /// expected head fails), the signing-key rows, and every consent row against its log
    /// entries; name the first fault. Exits 1 when any log fails.
    Verify {
        /// Only this tenant (default: every tenant with a log).
        #[arg(long)]
        tenant: Option<String>,
        /// Print one JSON report per tenant.
        #[arg(long)]
        json: bool,
    },
    /// Print a tenant log's checkpoint verifier key (C2SP signed-note `origin+hash+key`), for
    /// third-party verifiers and witnesses.
    CheckpointKey {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// One pass of the retention job.
    Run,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// finance, health, retail or default
        #[arg(long)]
        sector: String,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issue an API key; the key is printed once and cannot be shown again.
    Create {
        #[arg(long)]
        tenant: String,
        /// Comma-separated: sessions, consent, enrol, audit
        #[arg(long)]
        scopes: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a tenant's keys (ids, scopes, state; never secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key at once.
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SigningKeyCommand {
    /// Make a new signing key active; the old one stays published for `--retain-hours`.
    Rotate {
        /// Must exceed the lifetime of anything the old key signed.
        #[arg(long, default_value_t = 168)]
        retain_hours: u64,
    },
    /// Print the published keys (JWKS).
    List,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    crate::telemetry::init_logging(settings.log_format);
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = connect(&settings).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CheckConfig => {
            println!("{settings:#?}");
            println!("configuration is valid");
            Ok(())
        }
        Command::CheckModels => {
            let registry = tokio::task::spawn_blocking(move || {
                ModelRegistry::load(
                    &settings.onnxruntime_library,
                    &settings.models_dir,
                    LoadOptions {
                        sessions_per_model: 1,
                        intra_threads: 1,
                    },
                )
            })
            .await??;
            for (id, version) in registry.summary() {
                println!("ok  {id} {version}");
            }
            println!("{} models verified and loaded", registry.len());
            Ok(())
        }
        Command::Eval(crate::eval::EvalCommand::Keystroke {
            cmu,
            freetext,
            out_dir,
        }) => {
            if cmu.is_none() && freetext.is_none() {
                anyhow::bail!("give --cmu FILE and/or --freetext DIR");
            }
            let summary = tokio::task::spawn_blocking(move || -> anyhow::Result<serde_json::Value> {
                let registry = ModelRegistry::load(
                    &settings.onnxruntime_library,
                    &settings.models_dir,
                    LoadOptions {
                        sessions_per_model: 1,
                        intra_threads: 1,
                    },
                )?;
                let mut parts = Vec::new();
                if let Some(file) = cmu {
                    parts.push(crate::eval::keystroke::eval_cmu(&registry, &file, &out_dir)?);
                }
                if let Some(dir) = freetext {
                    parts.push(crate::eval::keystroke::eval_freetext(&registry, &dir, &out_dir)?);
                }
                Ok(if parts.len() == 1 {
                    parts.remove(0)
                } else {
                    serde_json::json!({"eer": parts[0]["eer"], "cmu": parts[0], "freetext": parts[1]})
                })
            })
            .await??;
            println!("{summary}");
            Ok(())
        }
        Command::Eval(crate::eval::EvalCommand::Voice {
            corpus,
            telephone,
            det,
            net_speech,
            enrol_clips,
        }) => {
            tokio::task::spawn_blocking(move || match net_speech {
                Some(durations) => {
                    let summary = crate::eval::voice_net_speech::run(
                        &settings,
                        &corpus,
                        telephone,
                        &durations,
                        enrol_clips,
                    )?;
                    println!("{summary}");
                    Ok(())
                }
                None => crate::eval::voice::run(&settings, &corpus, telephone, det),
            })
            .await?
        }
        Command::Eval(crate::eval::EvalCommand::Spoof {
            bona_fide,
            attacks,
            telephone,
            head,
            features,
        }) => {
            let summary = tokio::task::spawn_blocking(move || {
                crate::eval::spoof::run(
                    &settings,
                    &bona_fide,
                    &attacks,
                    telephone,
                    head,
                    features.as_deref(),
                )
            })
            .await??;
            println!("{summary}");
            Ok(())
        }
        Command::Bench(crate::eval::BenchCommand::Voice {
            seconds,
            iterations,
        }) => {
            tokio::task::spawn_blocking(move || {
                crate::eval::bench::run(&settings, seconds, iterations)
            })
            .await?
        }
        Command::Tenant(cmd) => {
            let db = connect_migrated(&settings).await?;
            match cmd {
                TenantCommand::Create { id, name, sector } => {
                    let sector: Sector = sector.parse()?;
                    let tenant = service::create_tenant(&db, &id, &name, sector).await?;
                    println!("created tenant {} ({})", tenant.tenant_id, tenant.sector);
                }
                TenantCommand::List => {
                    for t in crate::store::tenants::list(&db).await? {
                        println!("{}\t{}\t{}", t.tenant_id, t.sector, t.name);
                    }
                }
            }
            Ok(())
        }
        Command::Idp(IdpCommand::Set {
            tenant,
            realm,
            issuer,
            client_id,
            client_secret,
            scopes,
            role_claim,
            customer_claim,
        }) => {
            let db = connect_migrated(&settings).await?;
            let master = crate::crypto::master::load_or_create(&settings)
                .map_err(|e| anyhow::anyhow!("master key: {e}"))?;
            let tenant: TenantId = tenant.parse()?;
            let realm: crate::oidc::Realm = realm.parse()?;
            crate::oidc::service::configure(
                &db,
                &master,
                &tenant,
                realm,
                &crate::oidc::service::IdentityProviderConfig {
                    issuer_url: issuer,
                    client_id,
                    client_secret: crate::config::Secret::new(client_secret),
                    scopes: scopes
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    role_claim,
                    customer_claim,
                },
            )
            .await?;
            println!("identity provider for {tenant} ({realm}) saved");
            Ok(())
        }
        Command::Keys(cmd) => {
            let db = connect_migrated(&settings).await?;
            let master =
                crate::crypto::master::load_or_create(&settings).map_err(anyhow::Error::msg)?;
            match cmd {
                SigningKeyCommand::Rotate { retain_hours } => {
                    // Make sure a key exists first, so the first rotation retires something.
                    crate::crypto::signing::Signer::load(&db, &master).await?;
                    let kid = crate::crypto::signing::Signer::rotate(
                        &db,
                        &master,
                        std::time::Duration::from_secs(retain_hours * 3600),
                    )
                    .await?;
                    println!(
                        "new signing key {kid} is active; running instances pick it up within a minute"
                    );
                }
                SigningKeyCommand::List => {
                    let signer = crate::crypto::signing::Signer::load(&db, &master).await?;
                    println!("{}", serde_json::to_string_pretty(&signer.jwks())?);
                }
            }
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { tenant, json }) => {
            let db = connect_migrated(&settings).await?;
            let master =
                crate::crypto::master::load_or_create(&settings).map_err(anyhow::Error::msg)?;
            let signer = crate::crypto::signing::Signer::load(&db, &master).await?;
            let checkpoints = crate::ledger::publish::CheckpointLog::new(&settings, &master)?;
            let evidence = crate::ledger::verify::Evidence {
                signer: &signer,
                checkpoints: &checkpoints,
                now_ms: crate::store::now_ms(),
            };
            let tenants = match tenant {
                Some(t) => vec![t.parse::<TenantId>()?.to_string()],
                None => crate::store::ledger::tenants(&db).await?,
            };
            let refused = signer.refused_keys();
            for key in &refused {
                if !json {
                    println!("FAIL signing key {}: {}", key.kid, key.reason);
                }
            }
            if !refused.is_empty() && tenants.is_empty() {
                anyhow::bail!("{} signing key rows are refused", refused.len());
            }
            let mut failed = 0;
            for t in &tenants {
                let report = crate::audit::verify_tenant(&db, &evidence, t).await?;
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else if let Some(fault) = &report.fault {
                    println!("FAIL {t}: {fault}");
                } else {
                    println!("ok   {t}: {}", summary(&report));
                }
                if !report.ok() {
                    failed += 1;
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} of {} logs failed verification", tenants.len());
            }
            Ok(())
        }
        Command::Audit(AuditCommand::CheckpointKey { tenant }) => {
            let master =
                crate::crypto::master::load_or_create(&settings).map_err(anyhow::Error::msg)?;
            let checkpoints = crate::ledger::publish::CheckpointLog::new(&settings, &master)?;
            let tenant: TenantId = tenant.parse()?;
            println!("{}", checkpoints.log_key(tenant.as_str())?.encode());
            Ok(())
        }
        Command::Witness(args) => crate::witness::server::run(args).await,
        Command::Retention(RetentionCommand::Run) => {
            let state = AppState::build(settings).await?;
            let report = crate::consent::retention::run(&state).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Bench(crate::eval::BenchCommand::BareHttp) => {
            let db = connect(&settings).await?;
            crate::eval::bare_http::serve(db, settings.listen).await
        }
        Command::Bench(crate::eval::BenchCommand::Ledger {
            writers,
            appends,
            unbatched_appends,
            proof_entries,
        }) => {
            let db = Db::connect(
                settings.database_url.expose(),
                ConnectOptions {
                    max_connections: 8,
                    attempts: settings.database_connect_attempts,
                    ..ConnectOptions::default()
                },
            )
            .await?;
            db.migrate().await?;
            let master =
                crate::crypto::master::load_or_create(&settings).map_err(anyhow::Error::msg)?;
            let signer =
                std::sync::Arc::new(crate::crypto::signing::Signer::load(&db, &master).await?);
            for (group, n) in [(true, appends), (false, unbatched_appends)] {
                let f =
                    crate::ledger::bench::appends(&db, signer.clone(), writers, n, group).await?;
                println!("{}", serde_json::to_string(&f)?);
            }
            let p = tokio::task::spawn_blocking(move || {
                crate::ledger::bench::proofs(proof_entries, 1000)
            })
            .await??;
            println!("{}", serde_json::to_string(&p)?);
            Ok(())
        }
        Command::ApiKey(cmd) => {
            let db = connect_migrated(&settings).await?;
            match cmd {
                KeyCommand::Create {
                    tenant,
                    scopes,
                    label,
                } => {
                    let tenant: TenantId = tenant.parse()?;
                    let scopes = Scope::parse_list(&scopes)?;
                    let (key_id, key) = service::issue_key(&db, &tenant, &scopes, &label).await?;
                    println!("key id: {key_id}");
                    println!("API key (shown once, store it now): {}", key.as_str());
                }
                KeyCommand::List { tenant } => {
                    let tenant: TenantId = tenant.parse()?;
                    for k in crate::store::api_keys::list(&db, &tenant).await? {
                        let state = if k.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{}\t{}\t{}\t{}",
                            k.key_id,
                            state,
                            Scope::join(&k.scopes),
                            k.label
                        );
                    }
                }
                KeyCommand::Revoke { tenant, key_id } => {
                    let tenant: TenantId = tenant.parse()?;
                    if service::revoke_key(&db, &tenant, &key_id).await? {
                        println!("revoked {key_id}");
                    } else {
                        anyhow::bail!("no active key {key_id} for tenant {tenant}");
                    }
                }
            }
            Ok(())
        }
    }
}

/// One line of `audit verify` for a log that verified: what is proven, and how far.
fn summary(r: &crate::ledger::verify::VerifyReport) -> String {
    let time = |ms: Option<i64>| ms.map_or_else(|| "never".into(), crate::http::web::display_time);
    let mut out = format!(
        "{} entries, {} signed tree heads, {} commitments, {} consent rows verified; ",
        r.entries, r.tree_heads, r.commitments_checked, r.consent_rows_checked
    );
    if r.checkpoints == 0 {
        out.push_str("no external checkpoint yet (every entry is younger than the head interval)");
    } else {
        out.push_str(&format!(
            "entries 0..{} proven by {} external checkpoints (latest {}, first {}); witnessed up to {} ({})",
            r.proven_size,
            r.checkpoints,
            time(r.proven_at),
            time(r.first_checkpoint_at),
            r.witnessed_size,
            time(r.witnessed_at),
        ));
    }
    let unproven = r.entries.saturating_sub(r.proven_size);
    if unproven > 0 {
        out.push_str(&format!("; {unproven} newest entries not yet covered"));
    }
    out
}

async fn connect(settings: &Settings) -> anyhow::Result<Db> {
    Ok(Db::connect(
        settings.database_url.expose(),
        ConnectOptions {
            max_connections: 4,
            attempts: settings.database_connect_attempts,
            ..ConnectOptions::default()
        },
    )
    .await?)
}

async fn connect_migrated(settings: &Settings) -> anyhow::Result<Db> {
    let db = connect(settings).await?;
    db.migrate().await?;
    Ok(db)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let state = AppState::build(settings).await?;
    if let Some(key) = service::ensure_demo_tenant(&state.db).await? {
        // Printed to stdout once, never logged.
        println!("demo tenant `demo` (retail) created; its API key, shown once:");
        println!("  {}", key.as_str());
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        models = state.models.len(),
        backend = ?state.db.backend,
        "trustline listening"
    );
    println!("listening on http://{}", listener.local_addr()?);
    // Tree heads, retention, key reloads, webhook delivery (stopped when `_loops` drops).
    let _loops = crate::background::start(&state, crate::background::Intervals::default()).await;
    let limits = crate::http::limits::ConnectionLimits::from_settings(&state.settings);
    crate::http::limits::serve(listener, crate::app(state), limits, shutdown_signal()).await?;
    tracing::info!("shut down cleanly");
    Ok(())
}

/// SIGTERM (orchestrators) or Ctrl-C: stop accepting, finish in-flight requests, exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
