"""Reference evaluation of the voice recipe (Python, ONNX models) -- chooses what Rust implements.

Protocol (issue 9): per speaker, clips sorted by name, enrol on the first 3, test on each remaining
clip; target trials = test clip vs own enrolment; impostor trials = every test clip vs every other
scored speaker's enrolment.  --telephone first passes every clip through 8 kHz, a 300-3400 Hz band
and G.711 mu-law (then back to 16 kHz for the models).

Split rule (documented in README.md): a speaker is a *dev* speaker when
    int(sha256(speaker_id.encode()).hexdigest()[:8], 16) % 10 < 3        (~30 %)
Dev speakers provide the S-norm cohort, the fusion weights and the score->FMR calibration; they are
never scored.  `--fit` writes those artifacts (per condition) into models/voice/.

Usage:
  python ref_eval.py [--corpus DIR] [--telephone] [--fit] [--all-speakers]
"""
import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TELEPHONE_LOG_FLOOR, CACHE, DEFAULT_CORPUS, HERE, campplus_features, corpus, ge2e_mel, ge2e_normalize_volume, ge2e_partials, read_wav  # noqa: E402

# ---------------------------------------------------------------- recipe constants
DEV_MOD, DEV_LT = 10, 3
# VAD recipe: keep speech chunks +- 16 chunks (512 ms); only silences > ~1 s are shortened.
# Measured on speech-commands-test (1 s clips, dev-held-out speakers): tight trimming (pad 3 chunks)
# raised fused S-norm EER 1.08 % -> 1.58 % wideband, pad 8 -> 1.53 %; so only long silences go.
VAD_THRESHOLD, VAD_NEG_THRESHOLD, VAD_PAD_CHUNKS = 0.5, 0.35, 16  # 512-sample chunks (32 ms)
MIN_SPEECH_SAMPLES = 4000  # keep the whole clip when VAD finds < 0.25 s of speech
SNORM_TOP_K = 100


def is_dev(spk: str) -> bool:
    return int(hashlib.sha256(spk.encode()).hexdigest()[:8], 16) % DEV_MOD < DEV_LT


# ---------------------------------------------------------------- telephone channel
def g711_mulaw_roundtrip(x16: np.ndarray) -> np.ndarray:
    """ITU-T G.711 mu-law encode + decode of int16 samples (the standard segment tables)."""
    BIAS, CLIP = 0x84, 32635
    s = x16.astype(np.int32)
    sign = (s < 0)
    mag = np.minimum(np.abs(s), CLIP) + BIAS
    exp = np.floor(np.log2(mag)).astype(np.int32) - 7
    exp = np.clip(exp, 0, 7)
    mant = (mag >> (exp + 3)) & 0x0F
    # decode
    dec = (((mant << 3) + BIAS) << exp) - BIAS
    return np.where(sign, -dec, dec).astype(np.int16)


def telephone(wav: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, resample_poly, sosfilt

    x8 = resample_poly(wav.astype(np.float64), 1, 2)
    sos = butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos")
    x8 = sosfilt(sos, x8)
    q = np.clip(np.round(x8 * 32768), -32768, 32767).astype(np.int16)
    x8 = g711_mulaw_roundtrip(q).astype(np.float64) / 32768
    return resample_poly(x8, 2, 1).astype(np.float32)


# ---------------------------------------------------------------- models
def session(name):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(HERE / name), so, providers=["CPUExecutionProvider"])


def vad_probs(sess, wav):
    state = np.zeros((2, 1, 128), np.float32)
    ctx = np.zeros(64, np.float32)
    n = len(wav) // 512
    out = []
    for i in range(n):
        chunk = wav[i * 512:(i + 1) * 512].astype(np.float32)
        p, state = sess.run(None, {"input": np.concatenate([ctx, chunk])[None], "state": state,
                                   "sr": np.array(16000, np.int64)})
        out.append(float(p[0, 0]))
        ctx = chunk[-64:]
    return np.array(out)


def vad_trim(probs, wav, pad=VAD_PAD_CHUNKS):
    """Hysteresis (enter >= 0.5, leave < 0.35), pad `pad` chunks each side, keep speech samples."""
    speech = np.zeros(len(probs), bool)
    on = False
    for i, p in enumerate(probs):
        on = p >= VAD_THRESHOLD if not on else p >= VAD_NEG_THRESHOLD
        speech[i] = on
    keep = speech.copy()
    for i in np.flatnonzero(speech):
        keep[max(0, i - pad):i + pad + 1] = True
    idx = np.flatnonzero(keep)
    if len(idx) * 512 < MIN_SPEECH_SAMPLES:
        return wav
    segs = [wav[i * 512:(i + 1) * 512] for i in idx]
    tail = wav[len(probs) * 512:]
    if keep[-1] and len(tail):
        segs.append(tail)
    return np.concatenate(segs)


def embed_clip(sessions, wav, tele=False):
    cam, ge, vad = sessions
    probs = vad_probs(vad, wav)
    out = {}
    for tag, w in (("raw", wav), ("vad", vad_trim(probs, wav))):
        f = campplus_features(w, TELEPHONE_LOG_FLOOR if tele else None)[None]
        out[f"cam_{tag}"] = cam.run(None, {"fbank": f})[0][0]
        wn = ge2e_normalize_volume(w)
        # resemblyzer: 160-frame partials, zero padded
        slices, padded = ge2e_partials(len(wn))
        mel = ge2e_mel(np.pad(wn, (0, max(0, padded - len(wn)))))
        e = ge.run(None, {"mel": np.stack([mel[a:b] for a, b in slices])})[0].mean(0)
        out[f"ge_{tag}"] = e / np.linalg.norm(e)
        # no padding: one partial of the whole utterance when shorter than 1.6 s
        if len(slices) == 1:
            mel = ge2e_mel(wn)
            e = ge.run(None, {"mel": mel[None]})[0][0]
            out[f"genp_{tag}"] = e / np.linalg.norm(e)
        else:
            out[f"genp_{tag}"] = out[f"ge_{tag}"]
    out["speech_frac"] = np.array([float((probs >= 0.5).mean()) if len(probs) else 0.0])
    return out


def embeddings(root, tele):
    root = Path(root)
    spk = corpus(root)
    key = hashlib.sha256((str(root.resolve()) + str(tele) + ("v6" if tele else "v5")).encode()).hexdigest()[:12]
    path = CACHE / f"emb_{key}.npz"
    items = [(s, c) for s in spk for c in spk[s]]
    if path.exists():
        z = np.load(path, allow_pickle=True)
        return spk, z["names"].tolist(), {k: z[k] for k in z.files if k != "names"}
    sessions = (session("campplus.onnx"), session("ge2e.onnx"), session("silero_vad.onnx"))
    acc = {}
    for i, (s, c) in enumerate(items):
        w = read_wav(c)
        if tele:
            w = telephone(w)
        for k, v in embed_clip(sessions, w, tele).items():
            acc.setdefault(k, []).append(v)
        if i % 100 == 0:
            print(f"  embedded {i}/{len(items)}", file=sys.stderr)
    names = [f"{s}/{c.name}" for s, c in items]
    arrs = {k: np.stack(v).astype(np.float32) for k, v in acc.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, names=np.array(names), **arrs)
    return spk, names, arrs


# ---------------------------------------------------------------- scoring
def l2n(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def enrol(embs):
    return l2n(l2n(embs).mean(0))


def eer(tg, im):
    s = np.concatenate([tg, im])
    lab = np.concatenate([np.ones(len(tg)), np.zeros(len(im))])
    o = np.argsort(-s, kind="stable")
    lab = lab[o]
    fnr = 1 - np.cumsum(lab) / len(tg)
    fpr = np.cumsum(1 - lab) / len(im)
    i = np.argmin(np.abs(fnr - fpr))
    return float((fnr[i] + fpr[i]) / 2)


def fnmr_at(tg, im, fmr):
    thr = np.quantile(im, 1 - fmr, method="higher") if len(im) else np.inf
    return float((tg <= thr).mean())


def trials(spk, names, E, speakers, key):
    """-> enrol matrix, test matrix, test speaker idx, enrol speaker list."""
    idx = {n: i for i, n in enumerate(names)}
    en, te, te_spk = [], [], []
    for j, s in enumerate(speakers):
        clips = [idx[f"{s}/{c.name}"] for c in spk[s]]
        en.append(enrol(E[key][clips[:3]]))
        for t in clips[3:]:
            te.append(l2n(E[key][t]))
            te_spk.append(j)
    return np.stack(en), np.stack(te), np.array(te_spk)


def snorm_stats(X, cohort, k):
    S = X @ cohort.T
    top = -np.sort(-S, axis=1)[:, :k]
    return top.mean(1), top.std(1) + 1e-6


def split_scores(S, te_spk):
    mask = np.zeros_like(S, bool)
    mask[np.arange(len(te_spk)), te_spk] = True
    return S[mask], S[~mask]


def score_sets(spk, names, E, speakers, key, cohort=None, k=SNORM_TOP_K):
    EN, TE, ts = trials(spk, names, E, speakers, key)
    S = TE @ EN.T  # [n_test, n_enrol]
    if cohort is not None:
        me, se = snorm_stats(EN, cohort, k)
        mt, st = snorm_stats(TE, cohort, k)
        S = 0.5 * ((S - me[None]) / se[None] + (S - mt[:, None]) / st[:, None])
    return S, ts


def cohort_of(spk, names, E, speakers, key, level):
    idx = {n: i for i, n in enumerate(names)}
    if level == "speaker":
        return np.stack([enrol(E[key][[idx[f"{s}/{c.name}"] for c in spk[s]]]) for s in speakers])
    return l2n(E[key][[idx[f"{s}/{c.name}"] for s in speakers for c in spk[s]]])


def summary(tag, S, ts):
    tg, im = split_scores(S, ts)
    r = {"eer": eer(tg, im), "fnmr_at_fmr_1e-2": fnmr_at(tg, im, 1e-2), "fnmr_at_fmr_1e-3": fnmr_at(tg, im, 1e-3),
         "fnmr_at_fmr_1e-4": fnmr_at(tg, im, 1e-4), "target_trials": int(len(tg)), "impostor_trials": int(len(im))}
    print(f"  {tag:44s} EER {100 * r['eer']:5.2f} %  FNMR@1e-2 {100 * r['fnmr_at_fmr_1e-2']:5.1f} %  "
          f"@1e-3 {100 * r['fnmr_at_fmr_1e-3']:5.1f} %  ({len(tg)} tgt / {len(im)} imp)")
    return r


def dev_trials_for_fit(spk, names, E, dev, keys, cohorts, k):
    """Fused-feature matrix for dev trials; S-norm cohort excludes the speaker(s) of the trial
    by using leave-one-out (the cohort rows of the same speaker are removed)."""
    feats, labels = [], []
    for key in keys:
        EN, TE, ts = trials(spk, names, E, dev, key)
        C = cohorts[key]  # speaker-level or clip-level; rows grouped by dev speaker order
        S = TE @ EN.T
        SE = EN @ C.T
        ST = TE @ C.T
        owner = cohort_owner(spk, dev, C)
        # remove own-speaker cohort rows from the stats
        SEm = np.where(owner[None, :] == np.arange(len(dev))[:, None], -np.inf, SE)
        STm = np.where(owner[None, :] == ts[:, None], -np.inf, ST)

        def stats(M):
            top = -np.sort(-M, axis=1)[:, :k]
            return top.mean(1), top.std(1) + 1e-6

        me, se = stats(SEm)
        mt, st = stats(STm)
        N = 0.5 * ((S - me[None]) / se[None] + (S - mt[:, None]) / st[:, None])
        # the cohort for trial (t, e) still contains test speaker's rows in enrol stats; also exclude:
        feats.append(N)
        labels = (ts[:, None] == np.arange(len(dev))[None, :])
    return np.stack([f.ravel() for f in feats], 1), labels.ravel()


def cohort_owner(spk, dev, C):
    if len(C) == len(dev):
        return np.arange(len(dev))
    return np.array([j for j, s in enumerate(dev) for _ in spk[s]])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--telephone", action="store_true")
    ap.add_argument("--fit", action="store_true", help="write cohort/fusion/calibration artifacts")
    ap.add_argument("--all-speakers", action="store_true", help="score dev speakers too (for comparison only)")
    ap.add_argument("--k", type=int, default=SNORM_TOP_K)
    args = ap.parse_args()
    spk, names, E = embeddings(args.corpus, args.telephone)
    dev = [s for s in spk if is_dev(s) and len(spk[s]) >= 1]
    scored = [s for s in spk if len(spk[s]) >= 4 and (args.all_speakers or not is_dev(s))]
    cond = "telephone" if args.telephone else "wideband"
    print(f"{cond}: {len(spk)} speakers, dev {len(dev)}, scored {len(scored)}")
    res = {}
    for vad in ("raw", "vad"):
        for m in ("cam", "ge", "genp"):
            key = f"{m}_{vad}"
            S, ts = score_sets(spk, names, E, scored, key)
            res[f"{key}_cos"] = (S, ts)
            summary(f"{key} cosine", S, ts)
            for level in ("speaker", "clip"):
                C = cohort_of(spk, names, E, dev, key, level)
                S2, _ = score_sets(spk, names, E, scored, key, C, min(args.k, len(C)))
                res[f"{key}_snorm_{level}"] = (S2, ts)
                summary(f"{key} S-norm ({level} cohort, {len(C)})", S2, ts)
    print("  -- fusion (equal weights on z-scored / S-normed scores)")
    for vad in ("raw", "vad"):
        for g in ("ge", "genp"):
            for kind in ("cos", "snorm_clip", "snorm_speaker"):
                a, ts = res[f"cam_{vad}_{kind}"]
                b, _ = res[f"{g}_{vad}_{kind}"]
                if kind == "cos":
                    a, b = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
                summary(f"cam+{g} {vad} {kind} equal", a + b, ts)
    if args.fit:
        fit(args, spk, names, E, dev, scored, cond)


def fit(args, spk, names, E, dev, scored, cond):
    """Fit S-norm top-k, fusion weights + calibration on dev speakers only; evaluate on scored.

    Cohort = one averaged embedding per dev speaker (all of that speaker's clips), so the shipped
    artifact stays small.  top-k is chosen by the dev-trial EER of the fused score."""
    from sklearn.linear_model import LogisticRegression

    keys = {"campplus": "cam_vad", "ge2e": "genp_vad"}
    cohorts = {k: cohort_of(spk, names, E, dev, k, "speaker") for k in keys.values()}
    best = None
    for k in (10, 20, 40, len(dev) - 1):
        X, y = dev_trials_for_fit(spk, names, E, dev, list(keys.values()), cohorts, k)
        lr = LogisticRegression(C=1.0, class_weight="balanced").fit(X, y)
        s = X @ lr.coef_[0]
        e = eer(s[y == 1], s[y == 0])
        print(f"  dev: top-k {k:3d}: fused dev EER {100 * e:5.2f} %  weights {lr.coef_[0]}")
        if best is None or e < best[0]:
            best = (e, k, X, y, lr)
    _, k, X, y, lr = best
    w = lr.coef_[0]
    print(f"  chosen top-k {k}; fusion weights fitted on dev ({int(y.sum())} tgt / {int((1 - y).sum())} imp): {w}, bias {lr.intercept_[0]:.3f}")
    Ss = {}
    for name, key in keys.items():
        S, ts = score_sets(spk, names, E, scored, key, cohorts[key], k)
        Ss[name] = S
        summary(f"{name} S-norm (shipped cohort) {cond}", S, ts)
    F = w[0] * Ss["campplus"] + w[1] * Ss["ge2e"]
    r = summary(f"FUSED (dev-fitted) {cond}", F, ts)
    # calibration: dev impostor scores -> FMR; empirical where dev has enough impostor trials,
    # a Gaussian tail (mean/std of the dev impostor scores) beyond that.
    cal = {}
    dev_imp = {"campplus": X[y == 0, 0], "ge2e": X[y == 0, 1], "fused": X[y == 0] @ w}
    for name, imp in dev_imp.items():
        n = len(imp)
        grid = [f for f in FMR_GRID if f * n >= 5]
        qs = np.quantile(imp, [1 - f for f in grid])
        cal[name] = {"impostor_mean": float(imp.mean()), "impostor_std": float(imp.std()), "n_impostor_trials": int(n),
                     "table": [{"fmr": f, "threshold": round(float(q), 5)} for f, q in zip(grid, qs)]}
    art = {
        "condition": cond,
        "split_rule": f"dev speaker iff int(sha256(speaker_id)[:8], 16) % {DEV_MOD} < {DEV_LT}",
        "corpus": Path(args.corpus).name,
        "snorm": {"top_k": int(k), "kind": "adaptive S-norm: mean/std of the top-k cosines against the cohort, for enrolment and test side"},
        "fusion": {"campplus": round(float(w[0]), 6), "ge2e": round(float(w[1]), 6), "bias": round(float(lr.intercept_[0]), 6)},
        "calibration": cal,
        "vad": {"threshold": VAD_THRESHOLD, "neg_threshold": VAD_NEG_THRESHOLD, "pad_chunks": VAD_PAD_CHUNKS},
        "cohort_speaker_ids_sha256": sorted(hashlib.sha256(s.encode()).hexdigest()[:16] for s in dev),
        "cohort": {name: np.round(cohorts[key], 5).tolist() for name, key in keys.items()},
        "eval_on_scored_speakers": r,
    }
    out = HERE / f"voice_{cond}.json"
    out.write_text(json.dumps(art, separators=(",", ":")))
    print(f"  wrote {out} ({out.stat().st_size} bytes)")


FMR_GRID = [0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001]

if __name__ == "__main__":
    main()
