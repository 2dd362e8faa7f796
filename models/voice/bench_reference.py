"""Python reference path for the bench comparison (issue 9): kaldi-native-fbank for 3 s of audio
and the CAM++ ONNX on Python onnxruntime with one thread, 300 frames. Run it in the same load
conditions as `trustline bench voice` (e.g. both under `taskset -c 0`)."""
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, campplus_features  # noqa: E402

so = ort.SessionOptions()
so.intra_op_num_threads = 1
so.inter_op_num_threads = 1
sess = ort.InferenceSession(str(HERE / "campplus.onnx"), so, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).standard_normal((1, 300, 80)).astype(np.float32)
for _ in range(3):
    sess.run(None, {"fbank": x})
t = []
for _ in range(20):
    a = time.perf_counter()
    sess.run(None, {"fbank": x})
    t.append(time.perf_counter() - a)
w = (np.random.default_rng(1).standard_normal(48000) * 0.1).astype(np.float32)
f = []
for _ in range(10):
    a = time.perf_counter()
    campplus_features(w)
    f.append(time.perf_counter() - a)
print(f"python onnxruntime CAM++ 300 frames: median {1000 * np.median(t):.1f} ms; "
      f"kaldi-native-fbank 3 s: median {1000 * np.median(f):.1f} ms; "
      f"python path total {1000 * (np.median(t) + np.median(f)):.1f} ms")
