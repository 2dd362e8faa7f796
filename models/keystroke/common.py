"""Shared data loading, key classes, split rules and protocols for the keystroke models.

Everything here is mirrored by the Rust side (src/biometrics/keystroke); keep them in step.
"""
import csv
import gzip
import hashlib
import io
import os

import numpy as np

DATA = os.environ.get("KEYSTROKE_DATA", "/work/shared/data/keystroke")
CACHE = os.environ.get("KEYSTROKE_CACHE", "/work/cache/keystroke")

# ---------------------------------------------------------------------------------------------
# Key position classes. The widget maps a JavaScript keyCode to one of these and sends only the
# class; no model sees anything finer. Hand x row for the 4 rows of the main block, then space,
# modifiers, editing/navigation keys and everything else.
KEY_CLASSES = [
    "left_number", "right_number", "left_top", "right_top", "left_home", "right_home",
    "left_bottom", "right_bottom", "space", "modifier", "edit", "other",
]
N_CLASSES = len(KEY_CLASSES)


def key_class(keycode: int) -> int:
    k = int(keycode)
    if k in (192, 49, 50, 51, 52, 53):  # ` 1-5
        return 0
    if k in (54, 55, 56, 57, 48, 189, 173, 187, 61):  # 6-0 - =
        return 1
    if k in (81, 87, 69, 82, 84):  # Q W E R T
        return 2
    if k in (89, 85, 73, 79, 80, 219, 221, 220):  # Y U I O P [ ] \
        return 3
    if k in (65, 83, 68, 70, 71):  # A S D F G
        return 4
    if k in (72, 74, 75, 76, 186, 59, 222):  # H J K L ; '
        return 5
    if k in (90, 88, 67, 86, 66, 226):  # Z X C V B, intl backslash
        return 6
    if k in (78, 77, 188, 190, 191):  # N M , . /
        return 7
    if k == 32:
        return 8
    if k in (16, 17, 18, 20, 91, 92, 93, 224, 225):  # shift ctrl alt caps meta altgr
        return 9
    if k in (8, 46, 13, 9, 37, 38, 39, 40, 35, 36, 33, 34, 45):  # bksp del enter tab arrows ...
        return 10
    return 11


# ---------------------------------------------------------------------------------------------
# Split rules (documented in models/keystroke/README.md).
def subject_hash(name: str) -> int:
    return hashlib.sha256(name.encode()).digest()[0]


def cmu_is_training(subject: str) -> bool:
    """CMU subjects used to train/tune: first byte of sha256("cmu:" + id) < 100 (~39 %)."""
    return subject_hash("cmu:" + subject) < 100


def aalto_role(pid: int) -> str:
    """Aalto users: first byte b of sha256("aalto:" + id): b < 180 train (~70 %),
    180 <= b < 205 calibration (~10 %, score -> FMR table and tuning), b >= 205 evaluation (~20 %)."""
    b = subject_hash("aalto:" + str(int(pid)))
    return "train" if b < 180 else ("calibration" if b < 205 else "evaluation")


def aalto_is_training(pid: int) -> bool:
    """Users that never appear in a reported evaluation (training + calibration)."""
    return aalto_role(pid) != "evaluation"


# ---------------------------------------------------------------------------------------------
# CMU
CMU_KEYS = ["period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return"]
CMU_KEYCODES = [190, 84, 73, 69, 53, 16, 79, 65, 78, 76, 13]


def load_cmu(path=None):
    """Returns (subjects[str], session[int], rep[int], hold[N,11], dd[N,10]) in seconds."""
    path = path or os.path.join(DATA, "cmu_dsl_strong_password/DSL-StrongPasswordData.csv.gz")
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    subj = np.array([r[0] for r in rows])
    sess = np.array([int(r[1]) for r in rows])
    rep = np.array([int(r[2]) for r in rows])
    vals = np.array([[float(v) for v in r[3:]] for r in rows])
    hcols = [i for i, h in enumerate(header[3:]) if h.startswith("H.")]
    ddcols = [i for i, h in enumerate(header[3:]) if h.startswith("DD.")]
    return subj, sess, rep, vals[:, hcols], vals[:, ddcols]


def cmu_events(hold, dd):
    """Rebuild press/release ms timestamps (first press at 0) from CMU timings (seconds)."""
    n = hold.shape[0]
    press = np.concatenate([np.zeros((n, 1)), np.cumsum(dd, axis=1)], axis=1) * 1000.0
    release = press + hold * 1000.0
    return press, release


# ---------------------------------------------------------------------------------------------
# Aalto free text
def load_aalto(folder=None):
    """Returns dict pid -> list of sections, each an int array [n, 3] (press_ms, release_ms, class),
    sections in file order. Cached as npz."""
    folder = folder or os.path.join(DATA, "aalto136m_subset")
    tag = hashlib.sha256(os.path.abspath(folder).encode()).hexdigest()[:10]
    cache = os.path.join(CACHE, f"aalto_{tag}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return _unpack(z["pid"], z["sec"], z["ev"])
    pids, secs, ev = [], [], []
    with gzip.open(os.path.join(folder, "keystrokes.csv.gz"), "rt", newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        ix = {h: i for i, h in enumerate(header)}
        for row in r:
            p = int(row[ix["press_ms"]])
            h = int(row[ix["hold_ms"]])
            pids.append(int(row[ix["participant_id"]]))
            secs.append(int(row[ix["test_section_id"]]))
            ev.append((p, p + h, key_class(int(row[ix["keycode"]]))))
    pid, sec, ev = np.array(pids), np.array(secs), np.array(ev, dtype=np.int64)
    os.makedirs(CACHE, exist_ok=True)
    np.savez(cache, pid=pid, sec=sec, ev=ev)
    return _unpack(pid, sec, ev)


def _unpack(pid, sec, ev):
    out = {}
    brk = np.flatnonzero((np.diff(pid) != 0) | (np.diff(sec) != 0)) + 1
    starts = np.concatenate([[0], brk])
    ends = np.concatenate([brk, [len(pid)]])
    for s, e in zip(starts, ends):
        out.setdefault(int(pid[s]), []).append(ev[s:e])
    return out


# ---------------------------------------------------------------------------------------------
# Per-keystroke inputs shared by the free-text model and the Rust feature extractor.
# One row per keystroke: [log hold, log press-press, release-press, release-release, first] + one-hot class.
# Latencies are in seconds; press-press / release-press / release-release are taken to the previous
# keystroke of the same segment (chat message / sentence); the first keystroke of a segment has them
# at 0 with first = 1. Values are clamped to the plausible range before the transform.
FREE_WINDOW = 50
FREE_NUM = 5  # numeric columns before the one-hot class
FREE_DIM = FREE_NUM + N_CLASSES
MAX_LAT_MS = 5000.0


def keystroke_rows(segment):
    """segment: int array [n, 3] (press_ms, release_ms, class) in press order -> float32 [n, FREE_DIM]."""
    seg = np.asarray(segment, dtype=np.float64)
    n = len(seg)
    out = np.zeros((n, FREE_DIM), dtype=np.float32)
    press, rel, cls = seg[:, 0], seg[:, 1], seg[:, 2].astype(int)
    hold = np.clip(rel - press, 1.0, MAX_LAT_MS)
    out[:, 0] = np.log(hold / 1000.0)
    if n > 1:
        dd = np.clip(press[1:] - press[:-1], 1.0, MAX_LAT_MS)
        ud = np.clip(press[1:] - rel[:-1], -MAX_LAT_MS, MAX_LAT_MS)
        rr = np.clip(rel[1:] - rel[:-1], -MAX_LAT_MS, MAX_LAT_MS)
        out[1:, 1] = np.log(dd / 1000.0)
        out[1:, 2] = ud / 1000.0
        out[1:, 3] = rr / 1000.0
    out[0, 4] = 1.0
    out[np.arange(n), FREE_NUM + cls] = 1.0
    return out


def widget_segments(section):
    """Cut a corpus sentence the way the widget would send it (mirrored by
    src/eval/keystroke.rs): holds clamped to 0..5000 ms (lost or late releases), an event with
    the same press time and class as the previous one dropped (duplicate), and a new segment
    after any press-to-press pause over 5000 ms. Every segment then passes the service's
    validation."""
    out, cur, last = [], [], None
    for p, r, c in np.asarray(section, dtype=np.int64):
        r = p + min(max(r - p, 0), int(MAX_LAT_MS))
        if last is not None and p == last[0] and c == last[2]:
            continue
        if last is not None and p - last[0] > MAX_LAT_MS:
            out.append(np.array(cur))
            cur = []
        cur.append((p, r, c))
        last = (p, r, c)
    if cur:
        out.append(np.array(cur))
    return out


def user_stream(sections, sanitize=False):
    """Concatenate a user's sections (each its own segment) into one row matrix. With sanitize,
    sections are first cut into widget segments (as the Rust evaluation does)."""
    if sanitize:
        sections = [seg for s in sections for seg in widget_segments(s)]
    return np.concatenate([keystroke_rows(s) for s in sections if len(s) > 0])


def windows(rows, w=FREE_WINDOW):
    n = len(rows) // w
    return rows[: n * w].reshape(n, w, rows.shape[1])


def fixed_text_vector(segment):
    """Fixed-text features of one repetition (mirrors src/biometrics/keystroke/features.rs):
    K log holds, K-1 log press-press, K-1 release-press latencies, in seconds."""
    seg = np.asarray(segment, dtype=np.float64)
    press, rel = seg[:, 0], seg[:, 1]
    hold = np.maximum(rel - press, 1.0)
    dd = np.maximum(press[1:] - press[:-1], 1.0)
    ud = press[1:] - rel[:-1]
    return np.concatenate([np.log(hold / 1000.0), np.log(dd / 1000.0), ud / 1000.0]).astype(np.float32)


def start_window(w):
    """Every free-text window starts a fresh segment (no latency to a keystroke outside it)."""
    w[..., 0, 1:4] = 0.0
    w[..., 0, 4] = 1.0
    return w
