//! `trustline eval …` and `trustline bench …`: accuracy and speed measured by commands anyone
//! can run. Shared metric code (EER, FNMR at FMR, DET curves) lives in [`metrics`].

pub mod bare_http;
pub mod bench;
pub mod keystroke;
pub mod rates;
pub mod spoof;
pub mod voice;
pub mod voice_net_speech;

use std::path::PathBuf;

use clap::Subcommand;

/// The shipped models, one session each on one intra-op thread: evaluations and benchmarks
/// measure one request's work, not the pool's.
pub(crate) fn single_threaded_models(
    settings: &crate::config::Settings,
) -> anyhow::Result<crate::biometrics::models::ModelRegistry> {
    Ok(crate::biometrics::models::ModelRegistry::load(
        &settings.onnxruntime_library,
        &settings.models_dir,
        crate::biometrics::models::LoadOptions {
            sessions_per_model: 1,
            intra_threads: 1,
        },
    )?)
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Keystroke models: `--cmu FILE` (CMU password CSV, plain or .gz) and/or `--freetext DIR`
    /// (a folder laid out like aalto136m_subset). The last output line is a JSON summary.
    Keystroke {
        #[arg(long)]
        cmu: Option<PathBuf>,
        #[arg(long)]
        freetext: Option<PathBuf>,
        /// Where the DET curve PNGs go.
        #[arg(long, default_value = "docs")]
        out_dir: PathBuf,
    },
    /// Speaker verification over `<speaker>/<clip>.wav`: enrol on each speaker's first 3 clips
    /// (sorted by name), test on the rest against every scored speaker's enrolment.
    Voice {
        #[arg(long)]
        corpus: PathBuf,
        /// Pass every clip through 8 kHz, a 300-3400 Hz band and G.711 µ-law first.
        #[arg(long)]
        telephone: bool,
        /// DET curve image (default docs/det-voice-<condition>.png).
        #[arg(long)]
        det: Option<PathBuf>,
        /// Instead of the per-clip protocol: the net-speech curve at these durations (seconds,
        /// comma-separated, e.g. 1,2,3,5,8): probes concatenate a speaker's other clips.
        #[arg(long, value_delimiter = ',')]
        net_speech: Option<Vec<f32>>,
        /// With --net-speech: clips per speaker to enrol on (the rest make the probes).
        #[arg(long, default_value_t = 2)]
        enrol_clips: usize,
    },
    /// Presentation-attack detection (AASIST) per attack species: APCER per species and
    /// BPCER (ISO/IEC 30107-3) at the shipped threshold and at BPCER 5 %. Species are the
    /// sub-folders of `--attacks` (`models/voice/make_attacks.sh` builds them).
    Spoof {
        /// Bona fide speech, `<speaker>/<clip>.wav` (dev speakers are left out).
        #[arg(long)]
        bona_fide: PathBuf,
        #[arg(long)]
        attacks: PathBuf,
        /// Pass every clip through the telephone channel; the telephone threshold applies.
        #[arg(long)]
        telephone: bool,
        /// Also measure the trained head (`pad-head` in the manifest) beside AASIST.
        #[arg(long)]
        head: bool,
        /// Keep every clip's analysis here (JSON lines; the head's training data) and reuse
        /// it on the next run.
        #[arg(long)]
        features: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable appends/s with concurrent writers, with and without group commit, on the
    /// configured database; proof construction at `--proof-entries`.
    Ledger {
        #[arg(long, default_value_t = 64)]
        writers: usize,
        #[arg(long, default_value_t = 20_000)]
        appends: usize,
        /// Appends for the run without group commit (it is slow).
        #[arg(long, default_value_t = 2_000)]
        unbatched_appends: usize,
        #[arg(long, default_value_t = 1_000_000)]
        proof_entries: u64,
    },
    /// The baseline for `scripts/load-sessions.sh`: bare axum answering `POST /v1/sessions`
    /// with one group-committed durable insert per request (no middleware, no key check, no
    /// decision), on the configured database and listen address, until stopped.
    BareHttp,
    /// Verify of N seconds of audio (decode + VAD + fbank + embeddings + scoring) against bare
    /// ONNX Runtime calls of every model verify runs (Silero VAD, CAM++, GE2E) on the same
    /// inputs, in the same run, one intra-op thread (run under `taskset -c 0` for one core).
    /// Prints medians, the ratio, and where the time goes.
    Voice {
        #[arg(long, default_value_t = 3.0)]
        seconds: f32,
        #[arg(long, default_value_t = 100)]
        iterations: usize,
    },
}
