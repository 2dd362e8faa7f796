"""Write models/keystroke/manifest.part.toml (format: TEAM.md) from the trained files here."""
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CMU_SHA256 = "b11d23538b1865fa6ecf4e8b78567caa312e9c1027604bb022fcc6ad7eaa7a33"  # uncompressed CSV
CLASSES = ["left_number", "right_number", "left_top", "right_top", "left_home", "right_home",
           "left_bottom", "right_bottom", "space", "modifier", "edit", "other"]


def sha256(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def score_at(points, fmr):
    for s, f in sorted(points):
        if f <= fmr:
            return round(s, 5)
    return float("inf")


def toml_list(xs):
    return "[" + ", ".join(json.dumps(x) for x in xs) + "]"


def main():
    ft = json.loads((HERE / "fixed_text_training.json").read_text())
    fc = json.loads((HERE / "fixed_text_calibration.json").read_text())["tables"]
    fr = json.loads((HERE / "free_text_training.json").read_text())
    frc = json.loads((HERE / "free_text_calibration.json").read_text())
    a = ft["results_heldout"]
    ev = fr["evaluation"]
    fixed_ref = (f"PyTorch ensemble vs ONNX Runtime on 5 held-out subjects x (5, 10, 200 enrolment reps) x (11, 6 keys): "
                 f"max |diff| {ft['onnx_max_abs_diff']:.2e} (tolerance 1e-5). Held-out CMU ({len(ft['heldout_subjects'])} subjects): "
                 f"standard protocol per-subject EER {a['standard_200']['eer_mean']:.4f} (sd {a['standard_200']['eer_sd']:.4f}), "
                 f"10 reps session 1 {a['enrol10_session1']['eer_mean']:.4f}, 10 reps session 2 {a['enrol10_session2']['eer_mean']:.4f}")
    free_ref = (f"PyTorch vs ONNX Runtime on 10 evaluation users (1 and all windows, 1 and 3 templates): max |diff| "
                f"embedding {fr['onnx_max_abs_diff']['embedding']:.2e}, score {fr['onnx_max_abs_diff']['score']:.2e} (tolerance 1e-5 embedding). "
                f"Evaluation users ({ev['users']}): EER {ev['eer_global']:.4f} global threshold, per-user mean {ev['eer_user_mean']:.4f}")
    part = f'''[[models]]
id = "keystroke-fixed"
version = "{ft.get('version', '1.0.0')}"
task = "keystroke_fixed"
file = "keystroke/fixed_text.onnx"
sha256 = "{sha256(HERE / 'fixed_text.onnx')}"
source = "Trained here by models/keystroke/train_fixed.py (torch==2.15.0, seeds {ft['seeds']}, {ft['epochs']} epochs, features {ft.get('features', 'v1')}, enrolment sizes {ft.get('enrol_sizes')}, enrolment starts at the first repetition with probability {ft.get('p_start0', 0.0)}) on the CMU Keystroke Dynamics Benchmark DSL-StrongPasswordData (Killourhy & Maxion, Comparing Anomaly-Detection Algorithms for Keystroke Dynamics, DSN 2009), training subjects only: sha256('cmu:' + subject)[0] < 100 ({len(ft['train_subjects'])} of 51)"
licence = "Model weights: Apache-2.0 (this project). Training data: CMU benchmark, no licence text published; cite Killourhy & Maxion (2009)."
reference = "{fixed_ref}"
inputs  = [ {{ name = "sample", dtype = "f32", shape = "[B, F]" }}, {{ name = "enrolment", dtype = "f32", shape = "[N, F]" }}, {{ name = "kinds", dtype = "f32", shape = "[F, 3]" }} ]
outputs = [ {{ name = "score", dtype = "f32", shape = "[B]" }} ]
[models.features]
layout = "F = 3K-2 for K keys: K ln(hold s), K-1 ln(press-press s), K-1 release-press s; holds and press-press clamped to >= 1 ms"
kinds = "one-hot [F, 3]: hold, press-press, release-press"
min_keys = 6
min_enrolment_repetitions = 5
text_independent = true
training_data_sha256 = "{CMU_SHA256}"
training_subjects = {toml_list(ft['train_subjects'])}
[models.thresholds]
score_at_fmr_1e-2_enrol_10 = {score_at(fc['enrol_10']['points'], 0.01)}
score_at_fmr_1e-2_enrol_200 = {score_at(fc['enrol_200']['points'], 0.01)}

[[models]]
id = "keystroke-free"
version = "1.0.0"
task = "keystroke_free"
file = "keystroke/free_text.onnx"
sha256 = "{sha256(HERE / 'free_text.onnx')}"
source = "Trained here by models/keystroke/train_free.py (torch==2.15.0, seed {fr['seed']}, {fr['epochs']} x {fr['steps_per_epoch']} steps, batch {fr['batch']}) on the Aalto 136M Keystrokes free-text subset (Dhakal, Feit, Kristensson, Oulasvirta, Observations on Typing from 136 Million Keystrokes, CHI 2018, doi:10.1145/3173574.3174220), training users only: sha256('aalto:' + id)[0] < 180 ({fr['train_users']} users); key codes reduced to the 12 key position classes, characters never used"
licence = "Model weights: Apache-2.0 (this project). Training data: Aalto 136M Keystrokes, 'free to use for non-commercial use in your own research or projects with attribution to the authors'. NON-COMMERCIAL: operators must retrain on their own data (models/keystroke/train_free.py) before commercial use."
reference = "{free_ref}"
inputs  = [ {{ name = "windows", dtype = "f32", shape = "[B, 50, 17]" }}, {{ name = "template", dtype = "f32", shape = "[T, 128]" }} ]
outputs = [ {{ name = "embedding", dtype = "f32", shape = "[B, 128]" }}, {{ name = "score", dtype = "f32", shape = "[B, T]" }} ]
[models.features]
window = 50
row = "ln(hold s), ln(press-press s), release-press s, release-release s, segment start flag, one-hot key class (12)"
clamp_ms = 5000
key_classes = {toml_list(CLASSES)}
min_keystrokes_verify = 50
min_keystrokes_enrol = 250
training_data_sha256 = "5f7631a159a2d9fa8e2d3589d3f0364e02333302fa45141be66203d3bc282545"
not_evaluated_rule = "first byte of sha256('aalto:' + participant_id) < 205 (training and calibration users)"
not_evaluated_hash_prefix = "aalto:"
not_evaluated_first_byte_below = 205
score_normalisation = "symmetric top-{fr['topk']} against {len(fr['cohort_users'])} training-user windows, inside the graph"
[models.thresholds]
score_at_fmr_1e-2 = {score_at(frc['points'], 0.01)}
score_at_fmr_1e-3 = {score_at(frc['points'], 0.001)}

[[artifacts]]
id = "keystroke-fixed-calibration"
file = "keystroke/fixed_text_calibration.json"
sha256 = "{sha256(HERE / 'fixed_text_calibration.json')}"
description = "keystroke-fixed score -> FMR tables (enrol_10, enrol_200), out-of-fold on the CMU training subjects (split rule in models/keystroke/README.md)"

[[artifacts]]
id = "keystroke-free-calibration"
file = "keystroke/free_text_calibration.json"
sha256 = "{sha256(HERE / 'free_text_calibration.json')}"
description = "keystroke-free score -> FMR table per 50-keystroke window, measured on the Aalto calibration users (never trained on, never evaluated; split rule in models/keystroke/README.md)"
'''
    (HERE / "manifest.part.toml").write_text(part)
    print("wrote", HERE / "manifest.part.toml")


if __name__ == "__main__":
    main()
