"""AASIST on the data we have: calibrate on bona fide dev speakers, measure FRR on the other
(real) speakers and detection of synthetic speech made with Debian's espeak-ng.

Score = logit[bona fide] - logit[spoof].  Out of the box (threshold 0) AASIST calls much real,
out-of-domain speech spoof; we set the flag threshold at the 1st / 5th percentile of the dev
speakers' bona fide scores and report what that means on held-out real speech and on TTS.
Synthetic audio is generated into /work/cache (never the repo).  Needs: apt-get install espeak-ng sox.
Writes models/voice/aasist_calibration.json.
"""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, DEFAULT_CORPUS, HERE, corpus, read_wav  # noqa: E402
from convert_aasist import preprocess  # noqa: E402
from ref_eval import is_dev, session, telephone  # noqa: E402

TEXTS = [
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "zero", "one", "two", "three",
    "four", "five", "six", "seven", "eight", "nine", "bed", "bird", "cat", "dog", "happy", "house", "marvin",
    "sheila", "tree", "wow", "backward", "forward", "follow", "learn", "visual",
    "I would like to check my account balance please",
    "my date of birth is the fourth of July",
    "can you help me reset my password",
    "I am calling about a payment on my card",
    "please transfer me to an agent",
]
VOICES = ["en", "en-us", "en-gb-x-rp", "en+f3", "en+m3", "en-us+f2", "en+klatt", "en-us+whisper"]


def synth(out_dir: Path):
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for i, text in enumerate(TEXTS):
        for j, voice in enumerate(VOICES):
            if (i + j) % 2:  # half the grid: 160 utterances
                continue
            speed = 130 + 15 * ((i * 3 + j) % 5)
            pitch = 30 + 10 * ((i + 2 * j) % 5)
            raw = out_dir / f"tts_{i:02d}_{j}.22k.wav"
            wav = out_dir / f"tts_{i:02d}_{j}.wav"
            if not wav.exists():
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(raw), text],
                               check=True, capture_output=True)
                subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True,
                               capture_output=True)
                raw.unlink()
            files.append(wav)
    return files


def score(sess, wav):
    lg = sess.run(None, {"waveform": preprocess(wav)})[0][0]
    return float(lg[1] - lg[0])


def main():
    sess = session("aasist.onnx")
    cache = CACHE / "aasist_scores.json"
    spk = corpus(DEFAULT_CORPUS)
    if cache.exists():
        S = json.loads(cache.read_text())
    else:
        S = {"real": {}, "real_tel": {}, "tts": {}, "tts_tel": {}}
        for s, clips in spk.items():
            for c in clips:
                w = read_wav(c)
                S["real"][f"{s}/{c.name}"] = score(sess, w)
                S["real_tel"][f"{s}/{c.name}"] = score(sess, telephone(w))
        for f in synth(CACHE / "tts"):
            w = read_wav(f)
            S["tts"][f.name] = score(sess, w)
            S["tts_tel"][f.name] = score(sess, telephone(w))
        cache.write_text(json.dumps(S))
    dev = np.array([v for k, v in S["real"].items() if is_dev(k.split("/")[0])])
    held = np.array([v for k, v in S["real"].items() if not is_dev(k.split("/")[0])])
    held_tel = np.array([v for k, v in S["real_tel"].items() if not is_dev(k.split("/")[0])])
    dev_tel = np.array([v for k, v in S["real_tel"].items() if is_dev(k.split("/")[0])])
    tts = np.array(list(S["tts"].values()))
    tts_tel = np.array(list(S["tts_tel"].values()))
    out = {"score": "logit[1] - logit[0] (bona fide minus spoof)", "n_dev_bonafide": int(len(dev)),
           "n_heldout_bonafide": int(len(held)), "n_synthetic": int(len(tts)),
           "synthetic": "espeak-ng (Debian) 40 texts x 8 voice variants (half grid), 16 kHz via sox",
           "results": {}, "thresholds": {}}
    print(f"bona fide dev {len(dev)}, held-out {len(held)}, synthetic {len(tts)}")
    rows = [("out-of-the-box (threshold 0)", 0.0, 0.0)]
    for pct in (1, 5):
        rows.append((f"dev bona fide {pct}th percentile (wideband)", float(np.percentile(dev, pct)),
                     float(np.percentile(dev_tel, pct))))
    for name, thr, thr_tel in rows:
        r = {"threshold_wideband": thr, "threshold_telephone": thr_tel,
             "frr_real_wideband": float((held < thr).mean()), "detection_tts_wideband": float((tts < thr).mean()),
             "frr_real_telephone": float((held_tel < thr_tel).mean()), "detection_tts_telephone": float((tts_tel < thr_tel).mean())}
        out["results"][name] = r
        print(f"  {name:44s} thr {thr:7.3f}/{thr_tel:7.3f}  FRR real {100 * r['frr_real_wideband']:5.1f} %  "
              f"TTS detected {100 * r['detection_tts_wideband']:5.1f} %  | telephone FRR {100 * r['frr_real_telephone']:5.1f} % "
              f"TTS detected {100 * r['detection_tts_telephone']:5.1f} %")
    p5 = rows[2]
    out["thresholds"] = {"flag_below_wideband": round(p5[1], 4), "flag_below_telephone": round(p5[2], 4),
                         "target_dev_frr": 0.05}
    (HERE / "aasist_calibration.json").write_text(json.dumps(out, indent=1))
    print("wrote aasist_calibration.json")


if __name__ == "__main__":
    main()
