"""Silero VAD from PyPI silero-vad==6.2.3 -> models/voice/silero_vad.onnx (byte-for-byte copy).

The file is the wheel's own ONNX model (IR 8, opset 16), so the reference *is* this file: we
verify the member sha256, and run it on real clips with the wheel's streaming wrapper logic
(512-sample chunks at 16 kHz, 64 samples of context prepended, state [2, 1, 128]) to record the
interface the Rust VAD follows.
Inputs: input f32 [1, 576] (64 context + 512 new samples), state f32 [2, 1, 128], sr i64 scalar.
Outputs: output f32 [1, 1] speech probability, stateN f32 [2, 1, 128].
"""
import shutil
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, read_wav, sample_clips, sha256, wheel_member  # noqa: E402

MEMBER_SHA = "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"


def vad_probs(sess, wav):
    state = np.zeros((2, 1, 128), np.float32)
    ctx = np.zeros(64, np.float32)
    n = (len(wav) + 511) // 512
    x = np.pad(wav, (0, n * 512 - len(wav))).astype(np.float32)
    probs = []
    for i in range(n):
        chunk = x[i * 512:(i + 1) * 512]
        inp = np.concatenate([ctx, chunk])[None]
        p, state = sess.run(None, {"input": inp, "state": state, "sr": np.array(16000, np.int64)})
        probs.append(float(p[0, 0]))
        ctx = chunk[-64:]
    return probs


def main():
    src = wheel_member("silero_vad-6.2.3-*.whl", "silero_vad/data/silero_vad.onnx", MEMBER_SHA)
    out = HERE / "silero_vad.onnx"
    shutil.copyfile(src, out)
    assert sha256(out) == MEMBER_SHA
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"])
    for c in sample_clips(3):
        p = vad_probs(sess, read_wav(c))
        print(f"  {c.parent.name}/{c.name}: {len(p)} chunks, speech(>=0.5) {sum(q >= 0.5 for q in p)}, max p {max(p):.3f}")
    print(f"silero_vad.onnx copied, sha256 {MEMBER_SHA} verified")


if __name__ == "__main__":
    main()
