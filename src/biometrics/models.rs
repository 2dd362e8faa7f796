//! The models manifest and the ONNX Runtime sessions built from it.
//!
//! Everything the service loads is listed in `models/manifest.toml` with its sha256. Start-up
//! verifies every hash before a single byte is handed to ONNX Runtime and refuses to start on a
//! mismatch, naming the file: a swapped model silently changes who gets recognised.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
};

use ring::digest;
use serde::Deserialize;

pub const MANIFEST_FILE: &str = "manifest.toml";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "ONNX Runtime library not found at {0} (run `scripts/install-onnxruntime.sh`, or set onnxruntime_library / ORT_DYLIB_PATH)"
    )]
    RuntimeMissing(PathBuf),
    #[error("ONNX Runtime library at {path} could not be loaded: {reason}")]
    RuntimeLoad { path: PathBuf, reason: String },
    #[error("models manifest {path} could not be read: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("model file {0} is listed in the manifest but missing")]
    FileMissing(PathBuf),
    #[error(
        "model file {path} does not match its manifest sha256 (expected {expected}, found {found})"
    )]
    HashMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("model {id} ({path}) could not be loaded by ONNX Runtime: {reason}")]
    Load {
        id: String,
        path: PathBuf,
        reason: String,
    },
    #[error("model {id}: the manifest names input/output `{name}` but the file has no such tensor")]
    Signature { id: String, name: String },
    #[error("no model with id `{0}` is loaded")]
    Unknown(String),
    #[error("inference with model {id} failed: {reason}")]
    Inference { id: String, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(default)]
    pub models: Vec<ModelEntry>,
    #[serde(default)]
    pub artifacts: Vec<ArtifactEntry>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    pub version: String,
    pub task: ModelTask,
    pub file: PathBuf,
    pub sha256: String,
    pub source: String,
    pub licence: String,
    /// How the conversion was checked against its reference, with the measured difference.
    pub reference: String,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    #[serde(default)]
    pub features: toml::Table,
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelTask {
    SpeakerEmbedding,
    Vad,
    Antispoof,
    /// A head over the voice analysis' embeddings and AASIST score (voice::pad_head).
    AntispoofHead,
    KeystrokeFixed,
    KeystrokeFree,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: String,
    pub shape: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactEntry {
    pub id: String,
    pub file: PathBuf,
    pub sha256: String,
    pub description: String,
}

impl Manifest {
    pub fn read(models_dir: &Path) -> Result<Self, ModelError> {
        let path = models_dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| ModelError::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| ModelError::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut seen = std::collections::HashSet::new();
        for id in manifest
            .models
            .iter()
            .map(|m| &m.id)
            .chain(manifest.artifacts.iter().map(|a| &a.id))
        {
            if !seen.insert(id.clone()) {
                return Err(ModelError::Manifest {
                    path,
                    reason: format!("id `{id}` is listed twice"),
                });
            }
        }
        Ok(manifest)
    }

    /// Check every listed file's sha256; the first bad file is named in the error.
    pub fn verify_files(&self, models_dir: &Path) -> Result<(), ModelError> {
        let files = self
            .models
            .iter()
            .map(|m| (&m.file, &m.sha256))
            .chain(self.artifacts.iter().map(|a| (&a.file, &a.sha256)));
        for (file, expected) in files {
            let path = models_dir.join(file);
            verify_sha256(&path, expected)?;
        }
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes))
}

fn verify_sha256(path: &Path, expected: &str) -> Result<Vec<u8>, ModelError> {
    let bytes = std::fs::read(path).map_err(|_| ModelError::FileMissing(path.to_path_buf()))?;
    let found = sha256_hex(&bytes);
    if !found.eq_ignore_ascii_case(expected.trim()) {
        return Err(ModelError::HashMismatch {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(bytes)
}

/// The process-wide ONNX Runtime environment. ONNX Runtime allows one per process, ever, so it
/// lives in a static that every registry (and every test thread) shares.
static ORT_ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Load the ONNX Runtime shared library from `library` (once per process).
pub fn init_runtime(library: &Path) -> Result<&'static ort::environment::Environment, ModelError> {
    if !library.exists() {
        return Err(ModelError::RuntimeMissing(library.to_path_buf()));
    }
    let env = ORT_ENVIRONMENT.get_or_init(|| {
        // Never build an `ort::Error` before the library is loaded: it calls into the library.
        let builder = ort::init_from(library).map_err(|e| e.to_string())?;
        builder
            .with_name("trustline")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|reason| ModelError::RuntimeLoad {
        path: library.to_path_buf(),
        reason: reason.clone(),
    })
}

/// A few sessions of one model, so concurrent requests don't queue behind one `&mut Session`.
struct SessionPool {
    sessions: Vec<Mutex<ort::session::Session>>,
}

impl SessionPool {
    fn with<R>(&self, f: impl FnOnce(&mut ort::session::Session) -> R) -> R {
        // Take the first free session; if all are busy, wait on the first.
        for slot in &self.sessions {
            if let Ok(mut session) = slot.try_lock() {
                return f(&mut session);
            }
        }
        let mut session = match self.sessions[0].lock() {
            Ok(guard) => guard,
            // A panic during inference leaves the session usable: ONNX Runtime holds no
            // partially-updated state between runs.
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut session)
    }
}

pub struct LoadedModel {
    pub entry: ModelEntry,
    pool: SessionPool,
}

impl LoadedModel {
    /// Run `f` with exclusive use of one session of this model. Call from blocking context
    /// (`spawn_blocking`): inference is CPU work.
    pub fn run<R>(&self, f: impl FnOnce(&mut ort::session::Session) -> R) -> R {
        self.pool.with(f)
    }
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("id", &self.entry.id)
            .field("version", &self.entry.version)
            .field("sessions", &self.pool.sessions.len())
            .finish()
    }
}

/// Every model and artifact of the manifest, verified and loaded.
#[derive(Debug)]
pub struct ModelRegistry {
    pub models_dir: PathBuf,
    models: HashMap<String, LoadedModel>,
    artifacts: HashMap<String, Vec<u8>>,
    pub manifest: Manifest,
}

#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// Sessions per model (concurrent inferences).
    pub sessions_per_model: usize,
    /// Threads inside one inference; 1 keeps latency predictable under concurrent load.
    pub intra_threads: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            sessions_per_model: 2,
            intra_threads: 1,
        }
    }
}

impl ModelRegistry {
    pub fn load(
        library: &Path,
        models_dir: &Path,
        options: LoadOptions,
    ) -> Result<Self, ModelError> {
        let manifest = Manifest::read(models_dir)?;
        let environment = init_runtime(library)?;
        let mut models = HashMap::new();
        for entry in &manifest.models {
            let path = models_dir.join(&entry.file);
            let bytes = verify_sha256(&path, &entry.sha256)?;
            let mut sessions = Vec::with_capacity(options.sessions_per_model.max(1));
            for _ in 0..options.sessions_per_model.max(1) {
                let session = build_session(environment, &bytes, options.intra_threads).map_err(
                    |reason| ModelError::Load {
                        id: entry.id.clone(),
                        path: path.clone(),
                        reason,
                    },
                )?;
                check_signature(entry, &session)?;
                sessions.push(Mutex::new(session));
            }
            models.insert(
                entry.id.clone(),
                LoadedModel {
                    entry: entry.clone(),
                    pool: SessionPool { sessions },
                },
            );
        }
        let mut artifacts = HashMap::new();
        for artifact in &manifest.artifacts {
            let bytes = verify_sha256(&models_dir.join(&artifact.file), &artifact.sha256)?;
            artifacts.insert(artifact.id.clone(), bytes);
        }
        Ok(Self {
            models_dir: models_dir.to_path_buf(),
            models,
            artifacts,
            manifest,
        })
    }

    pub fn get(&self, id: &str) -> Result<&LoadedModel, ModelError> {
        self.models
            .get(id)
            .ok_or_else(|| ModelError::Unknown(id.to_string()))
    }

    /// The first loaded model for a task, in manifest order (the default for that task).
    pub fn for_task(&self, task: ModelTask) -> Option<&LoadedModel> {
        self.manifest
            .models
            .iter()
            .find(|m| m.task == task)
            .and_then(|m| self.models.get(&m.id))
    }

    pub fn artifact(&self, id: &str) -> Result<&[u8], ModelError> {
        self.artifacts
            .get(id)
            .map(Vec::as_slice)
            .ok_or_else(|| ModelError::Unknown(id.to_string()))
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    /// Ids and versions of every loaded model, for readiness and decision records.
    pub fn summary(&self) -> Vec<(String, String)> {
        self.manifest
            .models
            .iter()
            .map(|m| (m.id.clone(), m.version.clone()))
            .collect()
    }
}

fn build_session(
    environment: &ort::environment::Environment,
    bytes: &[u8],
    intra_threads: usize,
) -> Result<ort::session::Session, String> {
    // Builder errors carry the builder and are not Send; turn them into text right here.
    fn inner(
        environment: &ort::environment::Environment,
        bytes: &[u8],
        intra_threads: usize,
    ) -> ort::Result<ort::session::Session> {
        let mut builder = ort::session::Session::builder(environment)?
            .with_intra_threads(intra_threads.max(1))
            .map_err(ort::Error::<()>::from)?
            .with_inter_threads(1)
            .map_err(ort::Error::<()>::from)?;
        builder.commit_from_memory(bytes)
    }
    inner(environment, bytes, intra_threads).map_err(|e| e.to_string())
}

fn check_signature(entry: &ModelEntry, session: &ort::session::Session) -> Result<(), ModelError> {
    let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    for spec in &entry.inputs {
        if !inputs.contains(&spec.name.as_str()) {
            return Err(ModelError::Signature {
                id: entry.id.clone(),
                name: spec.name.clone(),
            });
        }
    }
    for spec in &entry.outputs {
        if !outputs.contains(&spec.name.as_str()) {
            return Err(ModelError::Signature {
                id: entry.id.clone(),
                name: spec.name.clone(),
            });
        }
    }
    Ok(())
}
