//! `trustline witness`: the witness as a small HTTP service with its own key and state,
//! independent of any trustline database. State (per origin: the size and root it last
//! cosigned) is written to `state_dir/state.json` (fsynced, renamed into place) before a
//! cosignature is returned, so a witness that crashes never cosigns backwards after restart.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::{LogState, WitnessError, cosign, decide, parse_request};
use crate::crypto::note::{
    ALG_COSIGNATURE_V1, ALG_ED25519, MAX_NOTE_BYTES, NoteSigner, VerifierKey,
};

#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:7380")]
    pub listen: SocketAddr,
    /// Holds the witness key (`witness.key`, created on first start) and `state.json`.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// The witness's key name (a schema-less URL is customary).
    #[arg(long)]
    pub name: String,
    /// A log to witness: its checkpoint verifier key (`origin+hash+base64`, from
    /// `trustline audit checkpoint-key`). Repeat for more logs.
    #[arg(long = "log", required = true)]
    pub logs: Vec<String>,
}

struct Witness {
    signer: NoteSigner,
    logs: HashMap<String, VerifierKey>,
    state_file: PathBuf,
    state: Mutex<HashMap<String, LogState>>,
}

const KEY_FILE: &str = "witness.key";
const STATE_FILE: &str = "state.json";

fn load_or_create_seed(dir: &Path) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(KEY_FILE);
    if !path.exists() {
        let mut seed = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(seed.as_mut())
            .map_err(|_| anyhow::anyhow!("no secure random numbers"))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(B64.encode(seed.as_ref()).as_bytes())?;
        f.sync_all()?;
    }
    let text = Zeroizing::new(std::fs::read_to_string(&path)?);
    let raw = Zeroizing::new(B64.decode(text.trim())?);
    let seed: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} does not hold 32 bytes", path.display()))?;
    Ok(Zeroizing::new(seed))
}

/// The witness router (also used in-process by tests that need no subprocess).
fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_NOTE_BYTES + 16 * 1024,
        ))
        .with_state(witness)
}

fn refusal(e: &WitnessError) -> Response {
    if let WitnessError::SizeMismatch { size } = e {
        // As the spec says: the witness's size, for the client to retry from.
        let mut r = (StatusCode::CONFLICT, format!("{size}\n")).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/x.tlog.size"),
        );
        return r;
    }
    let status = match e {
        WitnessError::Malformed(_) | WitnessError::OldAfterNew { .. } => StatusCode::BAD_REQUEST,
        WitnessError::UnknownOrigin(_) => StatusCode::NOT_FOUND,
        WitnessError::BadSignature => StatusCode::FORBIDDEN,
        WitnessError::Fork => StatusCode::CONFLICT,
        WitnessError::BadProof => StatusCode::UNPROCESSABLE_ENTITY,
        WitnessError::SizeMismatch { .. } => StatusCode::CONFLICT,
    };
    let body = serde_json::json!({
        "type": "about:blank",
        "title": e.to_string(),
        "status": status.as_u16(),
        "code": e.code(),
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let request = match parse_request(&body) {
        Ok(r) => r,
        Err(e) => return refusal(&e),
    };
    // One decision at a time: the state read and the state written belong together.
    let mut state = w.state.lock().await;
    let decided = decide(
        &request,
        |origin| w.logs.get(origin).cloned(),
        |origin| state.get(origin).copied(),
    );
    let (checkpoint, text, next) = match decided {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(code = e.code(), "checkpoint refused");
            return refusal(&e);
        }
    };
    let mut updated = state.clone();
    updated.insert(checkpoint.origin.clone(), next);
    if let Err(e) = persist(&w.state_file, &updated).await {
        tracing::error!(error = %e, "witness state not written; not cosigning");
        return (StatusCode::INTERNAL_SERVER_ERROR, "state not written\n").into_response();
    }
    *state = updated;
    drop(state);
    let timestamp = crate::store::now_ms() as u64 / 1000;
    let line = cosign(&w.signer, &text, timestamp).line();
    tracing::info!(origin = %checkpoint.origin, size = checkpoint.size, "checkpoint cosigned");
    (StatusCode::OK, line).into_response()
}

async fn persist(path: &Path, state: &HashMap<String, LogState>) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.tmp");
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(&text).await?;
    f.sync_all().await?;
    tokio::fs::rename(&tmp, path).await
}

/// Start the witness; prints its verifier key and address, then serves until killed.
pub async fn run(args: WitnessArgs) -> anyhow::Result<()> {
    let seed = load_or_create_seed(&args.state_dir)?;
    let signer = NoteSigner::from_seed(&args.name, ALG_COSIGNATURE_V1, &seed)?;
    let mut logs = HashMap::new();
    for vkey in &args.logs {
        let key = VerifierKey::parse(vkey)?;
        if key.alg != ALG_ED25519 {
            anyhow::bail!("{vkey} is not an Ed25519 log key");
        }
        logs.insert(key.name.clone(), key);
    }
    let state_file = args.state_dir.join(STATE_FILE);
    let state: HashMap<String, LogState> = match std::fs::read(&state_file) {
        Ok(bytes) => serde_json::from_slice(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
        Err(e) => return Err(e.into()),
    };
    println!("witness key: {}", signer.verifier().encode());
    let witness = Arc::new(Witness {
        signer,
        logs,
        state_file,
        state: Mutex::new(state),
    });
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router(witness)).await?;
    Ok(())
}
