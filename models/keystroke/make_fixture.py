"""Write tests/fixtures/keystroke_features.json: a few synthetic keystroke segments (made here
from a fixed seed, no corpus data) with the Python features, for the Rust feature tests."""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import N_CLASSES, fixed_text_vector, keystroke_rows, start_window, windows  # noqa: E402

rng = np.random.default_rng(7)


def segment(n):
    press = np.cumsum(np.r_[rng.uniform(0, 50), rng.gamma(2.0, 90.0, n - 1)])
    hold = rng.gamma(4.0, 25.0, n)
    press = np.round(press, 1)
    hold = np.round(hold, 1)
    hold[rng.integers(n)] = 0.0  # a zero hold: clamped to 1 ms
    cls = rng.integers(0, N_CLASSES, n)
    return np.stack([press, press + hold, cls], 1)


fixed = [segment(11), segment(6)]
free = [segment(40), segment(23), segment(47)]
rows = np.concatenate([keystroke_rows(s) for s in free])
wins = start_window(windows(rows.copy()))
doc = {
    "classes": ["left_number", "right_number", "left_top", "right_top", "left_home", "right_home",
                "left_bottom", "right_bottom", "space", "modifier", "edit", "other"],
    "fixed": [{"events": s.tolist(), "vector": fixed_text_vector(s).tolist()} for s in fixed],
    "free": {"segments": [s.tolist() for s in free], "rows": rows.tolist(), "windows": wins.tolist()},
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/fixtures/keystroke_features.json")
os.makedirs(os.path.dirname(out), exist_ok=True)
with open(out, "w") as f:
    json.dump(doc, f)
print(out, os.path.getsize(out))
