"""EER and FNMR@FMR exactly as src/eval computes them (scores: higher = more genuine)."""
import numpy as np


def rates(genuine, impostor):
    thr = np.unique(np.concatenate([genuine, impostor]))
    g, i = np.sort(genuine), np.sort(impostor)
    fmr = 1.0 - np.searchsorted(i, thr, side="left") / len(i)   # impostors with score >= thr
    fnmr = np.searchsorted(g, thr, side="left") / len(g)        # genuine with score < thr
    return thr, fmr, fnmr


def eer(genuine, impostor):
    _, fmr, fnmr = rates(genuine, impostor)
    k = np.argmin(np.abs(fmr - fnmr))
    return float((fmr[k] + fnmr[k]) / 2)


def fnmr_at_fmr(genuine, impostor, target):
    _, fmr, fnmr = rates(genuine, impostor)
    ok = fmr <= target
    return float(fnmr[ok].min()) if ok.any() else 1.0
