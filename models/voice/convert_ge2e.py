"""GE2E speaker encoder from PyPI resemblyzer==0.1.4 -> models/voice/ge2e.onnx.

Input  `mel`       f32 [B, T, 40]: resemblyzer's mel frames (power mel, NOT log; spec in
                   common.py next to ge2e_mel and in README.md). resemblyzer uses T = 160
                   (1.6 s partials); any T >= 1 works.
Output `embedding` f32 [B, 256]: relu(linear(h_T of the 3rd LSTM layer)), L2-normalised --
                   exactly VoiceEncoder.forward.

The wheel's own module is imported for the reference (webrtcvad, needed only by resemblyzer's
silence trimming, is stubbed out at import time; we do not use that trimming).
"""
import sys
import types
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HERE, IR_VERSION, OPSET, ge2e_mel, ge2e_normalize_volume, ge2e_partials, read_wav, sample_clips, sha256, wheel_member, wheel_source_dir  # noqa: E402

MEMBER_SHA = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"


def load_resemblyzer():
    src = wheel_source_dir("Resemblyzer-0.1.4-*.whl")
    sys.modules.setdefault("webrtcvad", types.ModuleType("webrtcvad"))
    import scipy.ndimage

    if "scipy.ndimage.morphology" not in sys.modules:  # removed in newer scipy; same function
        shim = types.ModuleType("scipy.ndimage.morphology")
        shim.binary_dilation = scipy.ndimage.binary_dilation
        sys.modules["scipy.ndimage.morphology"] = shim
    sys.path.insert(0, str(src))
    from resemblyzer import audio
    from resemblyzer.voice_encoder import VoiceEncoder

    return audio, VoiceEncoder


def main():
    torch.set_num_threads(1)
    audio, VoiceEncoder = load_resemblyzer()
    pt = wheel_member("Resemblyzer-0.1.4-*.whl", "resemblyzer/pretrained.pt", MEMBER_SHA)
    enc = VoiceEncoder(device="cpu", verbose=False, weights_fpath=pt).eval()

    out = HERE / "ge2e.onnx"
    dummy = torch.zeros(1, 160, 40)
    torch.onnx.export(enc, (dummy,), str(out), input_names=["mel"], output_names=["embedding"],
                      dynamic_axes={"mel": {0: "B", 1: "T"}, "embedding": {0: "B"}},
                      opset_version=OPSET, dynamo=False, do_constant_folding=True)
    m = onnx.load(str(out))
    m.ir_version = IR_VERSION
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    print(f"wrote {out} ({out.stat().st_size} bytes) ir={m.ir_version} opset={m.opset_import[0].version} sha256={sha256(out)}")

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out), so, providers=["CPUExecutionProvider"])
    worst = worst_mel = worst_utt = 0.0
    wavs = [read_wav(c) for c in sample_clips(6)]
    wavs.append(np.concatenate(wavs[:3]))
    for w in wavs:
        w = ge2e_normalize_volume(w)
        slices, padded = ge2e_partials(len(w))
        wp = np.pad(w, (0, max(0, padded - len(w))))
        mel_ref = audio.wav_to_mel_spectrogram(wp)  # resemblyzer's own front end
        mel_ours = ge2e_mel(wp)
        worst_mel = max(worst_mel, float(np.abs(mel_ref - mel_ours).max()))
        mels = np.stack([mel_ref[a:b] for a, b in slices]).astype(np.float32)
        with torch.no_grad():
            ref = enc(torch.from_numpy(mels)).numpy()
        got = sess.run(None, {"mel": mels})[0]
        d = float(np.abs(got - ref).max())
        worst = max(worst, d)
        # whole-utterance embedding as resemblyzer.embed_utterance does it
        ref_utt = enc.embed_utterance(w)
        e = got.mean(0)
        e /= np.linalg.norm(e)
        worst_utt = max(worst_utt, float(np.abs(e - ref_utt).max()))
        print(f"  samples={len(w):6d} partials={len(slices)} max|diff| {d:.2e}")
    print(f"GE2E reference match on {len(wavs)} real clips: max |diff| {worst:.2e} (partials), "
          f"{worst_utt:.2e} (embed_utterance); mel front end vs resemblyzer {worst_mel:.2e} (tolerance 1e-4)")
    assert worst < 1e-4 and worst_utt < 1e-4 and worst_mel < 1e-4


if __name__ == "__main__":
    main()
