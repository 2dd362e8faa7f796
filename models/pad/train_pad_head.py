"""Train the presentation-attack head (voice::pad_head) and export it to ONNX.

Input: the JSON lines `trustline eval spoof --features FILE` writes (one per clip: key, group =
`bona_fide` or the attack species, dev, index, features = CAM++ 192 ++ GE2E 256 ++ AASIST score).

Training split (the same rule `trustline eval spoof --head` leaves out when it measures):
* bona fide: clips of the dev speakers only (the speakers the shipped calibrations were fitted
  on; the evaluation's bona fide speakers are disjoint from them);
* attacks: the even-numbered clips (sorted order) of TRAINED_SPECIES. Every other species is
  held out entirely.

Model: StandardScaler + L2 logistic regression (class-balanced). The flag threshold is the 5th
percentile of the out-of-fold bona fide probabilities (5-fold cross-validation on the training
set): BPCER 5 % on data the fold's model did not see.

Writes pad_head.onnx, reference.json (ONNX Runtime vs scikit-learn on 8 inputs: 4 attack
clips' features + 4 random vectors) and manifest.part.toml (sha256, threshold, trained species).
Usage: python models/pad/train_pad_head.py FEATURES.jsonl
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
TRAINED_SPECIES = ["espeak-ng", "festival", "flite"]
VERSION = "1.0.0"
TOLERANCE = 1e-5


def main(path):
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["key"].endswith(":wideband")]
    train = [
        r
        for r in rows
        if (r["group"] == "bona_fide" and r["dev"])
        or (r["group"] in TRAINED_SPECIES and r["index"] % 2 == 0)
    ]
    x = np.array([r["features"] for r in train], dtype=np.float32)
    y = np.array([1 if r["group"] == "bona_fide" else 0 for r in train])
    print(f"training: {int(y.sum())} bona fide (dev speakers), {int((1 - y).sum())} attacks "
          f"({', '.join(TRAINED_SPECIES)}, even clips); {x.shape[1]} features")

    def model():
        return make_pipeline(
            StandardScaler(),
            LogisticRegression(C=0.05, class_weight="balanced", max_iter=5000),
        )

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=16)
    oof = cross_val_predict(model(), x, y, cv=folds, method="predict_proba")[:, 1]
    threshold = float(np.quantile(oof[y == 1], 0.05))
    oof_apcer = float(np.mean(oof[y == 0] >= threshold))
    print(f"out-of-fold: threshold {threshold:.4f} (BPCER 5 %), APCER of trained species {oof_apcer:.3f}")

    clf = model().fit(x, y)
    onx = convert_sklearn(
        clf,
        initial_types=[("features", FloatTensorType([None, x.shape[1]]))],
        options={LogisticRegression: {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    onnx_path = HERE / "pad_head.onnx"
    onnx_path.write_bytes(onx.SerializeToString())

    # Reference: ONNX Runtime against scikit-learn.
    rng = np.random.default_rng(16)
    attacks = [r for r in rows if r["group"] not in ("bona_fide",)][:: max(1, len(rows) // 50)][:4]
    probe = np.vstack([
        np.array([r["features"] for r in attacks], dtype=np.float32),
        rng.standard_normal((4, x.shape[1])).astype(np.float32) * 0.1,
    ])
    want = clf.predict_proba(probe)[:, 1]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = sess.run(["probabilities"], {"features": probe})[0][:, 1]
    diff = float(np.max(np.abs(got - want)))
    assert diff <= TOLERANCE, diff
    print(f"reference: onnxruntime vs scikit-learn max |diff| {diff:.2e} (tolerance {TOLERANCE:g})")
    (HERE / "reference.json").write_text(json.dumps({
        "tolerance": TOLERANCE,
        "inputs": probe.tolist(),
        "bona_fide_probability": want.tolist(),
    }) + "\n")

    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    (HERE / "manifest.part.toml").write_text(f'''[[models]]
id = "pad-head"
version = "{VERSION}"
task = "antispoof_head"
file = "pad/pad_head.onnx"
sha256 = "{sha}"
source = "trained by models/pad/train_pad_head.py (scikit-learn==1.9.1, skl2onnx==1.20.0) on `trustline eval spoof --features` of the shared corpus's dev speakers and models/voice/make_attacks.sh species {', '.join(TRAINED_SPECIES)} (even clips)"
licence = "Apache-2.0 (this project)"
reference = "onnxruntime vs scikit-learn on 8 inputs (models/pad/reference.json): max |diff| {diff:.2e} (tolerance {TOLERANCE:g})"
inputs  = [ {{ name = "features", dtype = "f32", shape = "[N, {x.shape[1]}]" }} ]
outputs = [ {{ name = "label", dtype = "i64", shape = "[N]" }}, {{ name = "probabilities", dtype = "f32", shape = "[N, 2]" }} ]
[models.features]
input = "CAM++ embedding (192) ++ GE2E embedding (256) ++ AASIST bona fide score (1), as voice::embed::analyse computes them"
score = "probabilities[1] (bona fide)"
trained_species = {json.dumps(TRAINED_SPECIES)}
[models.thresholds]
flag_below_wideband = {threshold:.6f}
target_training_bpcer = 0.05
''')
    print(f"wrote {onnx_path.name} (sha256 {sha[:16]}…, {onnx_path.stat().st_size} bytes), reference.json, manifest.part.toml")


if __name__ == "__main__":
    main(sys.argv[1])
