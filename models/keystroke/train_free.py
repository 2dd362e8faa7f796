"""Train, evaluate and export the free-text keystroke verifier (models/keystroke/free_text.onnx).

Data: Aalto 136M Keystrokes subset (Dhakal et al., CHI 2018), non-commercial use with
attribution. Split rule (common.aalto_role): first byte of sha256("aalto:" + participant_id):
< 180 train, 180..204 calibration (score normalisation cohort is NOT taken from here; this set
gives the score -> FMR table), >= 205 evaluation (reported only).
Usage:
  python train_free.py train    # trains the GRU on the training users -> /work/cache checkpoint
  python train_free.py export   # cohort, calibration, held-out evaluation, ONNX export + check
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import FREE_WINDOW, CACHE, aalto_role, load_aalto, user_stream, windows  # noqa: E402
from free_model import FreeTextNet, FreeTextVerifier  # noqa: E402
from metrics import eer, fnmr_at_fmr  # noqa: E402

torch.set_num_threads(1)
SEED = int(os.environ.get("SEED", 0))
EPOCHS = int(os.environ.get("EPOCHS", 20))
STEPS = int(os.environ.get("STEPS", 200))
BATCH = 128
COHORT_USERS = 1000
ENROL_WINDOWS = 5
HERE = os.path.dirname(os.path.abspath(__file__))
CKPT = os.path.join(CACHE, f"free_text_seed{SEED}_ep{EPOCHS}.pt")

A = load_aalto()
STREAMS = {p: user_stream(s) for p, s in A.items()}  # training input (latencies clamped)
# evaluation/calibration input: cut into widget segments exactly as `trustline eval` does
EVAL_STREAMS = {p: user_stream(s, sanitize=True) for p, s in A.items()} if sys.argv[1:] == ["export"] else {}
ROLE = {p: aalto_role(p) for p in STREAMS}
TRAIN = sorted(p for p in STREAMS if ROLE[p] == "train")
CALIB = sorted(p for p in STREAMS if ROLE[p] == "calibration")
EVAL = sorted(p for p in STREAMS if ROLE[p] == "evaluation")


def start_window(w):
    """Every window starts a fresh segment: its first keystroke has no latency to a previous one."""
    w[..., 0, 1:4] = 0.0
    w[..., 0, 4] = 1.0
    return w


def train():
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    streams = [STREAMS[p].astype(np.float32) for p in TRAIN]
    net = FreeTextNet(len(TRAIN))
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=EPOCHS * STEPS)
    t0 = time.time()
    for ep in range(EPOCHS):
        tot = 0.0
        for _ in range(STEPS):
            ui = rng.integers(len(streams), size=BATCH)
            xs = []
            for u in ui:
                s = streams[u]
                st = rng.integers(0, len(s) - FREE_WINDOW + 1)
                xs.append(start_window(s[st:st + FREE_WINDOW].copy()))
            x, y = torch.tensor(np.stack(xs)), torch.tensor(ui)
            loss = torch.nn.functional.cross_entropy(net.logits(net.embed(x), y), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item()
        print(f"epoch {ep} loss {tot / STEPS:.3f} t {time.time() - t0:.0f}s", flush=True)
    torch.save(net.state_dict(), CKPT)


def user_windows(p):
    return start_window(windows(EVAL_STREAMS[p].astype(np.float32)))


def embed_users(net, users):
    E, U = [], []
    with torch.no_grad():
        for p in users:
            w = user_windows(p)
            E.append(net.embed(torch.tensor(w)).numpy())
            U.append(np.full(len(w), p))
    return np.concatenate(E), np.concatenate(U)


def protocol(model, users):
    """Enrol the first 5 windows of 50 keystrokes of each user; genuine = that user's later windows;
    impostors = every window of every other user in `users`. Scores through the shipped verifier."""
    with torch.no_grad():
        E, owner = embed_users(model.net, users)
        first = np.concatenate([np.arange((owner == p).sum()) for p in users])
        E = torch.tensor(E)
        G, I, per = [], [], []
        for p in users:
            t = E[(owner == p) & (first < ENROL_WINDOWS)].mean(0, keepdim=True)
            s = model.score(E, t).numpy()[:, 0]
            g = s[(owner == p) & (first >= ENROL_WINDOWS)]
            i = s[owner != p]
            G.append(g)
            I.append(i)
            per.append(eer(g, i))
    G, I = np.concatenate(G), np.concatenate(I)
    return {"eer_global": eer(G, I), "eer_user_mean": float(np.mean(per)), "eer_user_sd": float(np.std(per)),
            "fnmr_at_fmr_1pct_global": fnmr_at_fmr(G, I, 0.01), "users": len(users),
            "genuine": int(len(G)), "impostor": int(len(I))}, I


def export():
    t0 = time.time()
    net = FreeTextNet(len(TRAIN))
    net.load_state_dict(torch.load(CKPT))
    net.eval()
    # Cohort: one window (the 6th: never an enrolment window in the protocol) of COHORT_USERS
    # training users, chosen by a fixed seed.
    rng = np.random.default_rng(1234)
    cu = sorted(rng.choice(TRAIN, COHORT_USERS, replace=False).tolist())
    Ec, Uc = embed_users(net, cu)
    cohort = np.stack([Ec[Uc == p][min(5, (Uc == p).sum() - 1)] for p in cu]).astype(np.float32)
    # Choose the score normalisation on the calibration users only.
    best = None
    for topk in (0, 50, 100, 200, 1000):
        m = FreeTextVerifier(net, torch.tensor(cohort), topk).eval()
        r, imp = protocol(m, CALIB)
        print("calibration topk", topk, json.dumps(r), flush=True)
        if best is None or r["eer_global"] < best[0]["eer_global"]:
            best = (r, imp, topk)
    calib, calib_imp, topk = best
    model = FreeTextVerifier(net, torch.tensor(cohort), topk).eval()
    res, _ = protocol(model, EVAL)
    print("evaluation", json.dumps(res), flush=True)
    # score -> FMR table from the calibration users' impostor scores
    qs = np.linspace(0, 1, 201)
    table = {"description": "free-text verifier score -> FMR measured on the calibration users (split rule in README)",
             "impostor_scores": len(calib_imp),
             "points": [[float(np.quantile(calib_imp, q)), float(1 - q)] for q in qs]}
    with open(os.path.join(HERE, "free_text_calibration.json"), "w") as f:
        json.dump(table, f, indent=0)
    out = os.path.join(HERE, "free_text.onnx")
    x = torch.tensor(user_windows(EVAL[0])[:2])
    t = torch.tensor(cohort[:1])
    torch.onnx.export(model, (x, t), out, input_names=["windows", "template"], output_names=["embedding", "score"],
                      opset_version=17, dynamo=False,
                      dynamic_axes={"windows": {0: "B"}, "template": {0: "T"}, "embedding": {0: "B"},
                                    "score": {0: "B", 1: "T"}})
    import onnx
    m = onnx.load(out)
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, out)
    diff = verify(model, out)
    summary = {"seed": SEED, "epochs": EPOCHS, "steps_per_epoch": STEPS, "batch": BATCH, "topk": topk,
               "train_users": len(TRAIN), "calibration_users": len(CALIB), "evaluation_users": len(EVAL),
               "cohort_users": cu, "calibration": calib, "evaluation": res, "onnx_max_abs_diff": diff,
               "seconds": time.time() - t0}
    with open(os.path.join(HERE, "free_text_training.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({"onnx_max_abs_diff": diff}))


def verify(model, path):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = [0.0, 0.0]
    with torch.no_grad():
        for p in EVAL[:10]:
            w = user_windows(p)
            t = model(torch.tensor(w[:5]), torch.zeros(1, 128))[0].mean(0, keepdim=True)
            t3 = torch.cat([t, torch.tensor(np.asarray(model.cohort[:2]))])
            for b, tt in ((w[:1], t), (w, t), (w, t3)):
                e_ref, s_ref = model(torch.tensor(b), tt)
                e, s = sess.run(None, {"windows": b, "template": tt.numpy()})
                worst[0] = max(worst[0], float(np.abs(e - e_ref.numpy()).max()))
                worst[1] = max(worst[1], float(np.abs(s - s_ref.numpy()).max()))
    return {"embedding": worst[0], "score": worst[1]}


if __name__ == "__main__":
    {"train": train, "export": export}[sys.argv[1]]()
