//! Verification metrics: EER, FNMR at a fixed FMR, DET points.

use serde::Serialize;

/// Equal error rate: the point where the false non-match and false match rates cross.
pub fn eer(targets: &[f32], impostors: &[f32]) -> f64 {
    if targets.is_empty() || impostors.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f32, bool)> = targets
        .iter()
        .map(|&s| (s, true))
        .chain(impostors.iter().map(|&s| (s, false)))
        .collect();
    // Descending by score; threshold just below each score accepts everything above it.
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (nt, ni) = (targets.len() as f64, impostors.len() as f64);
    let (mut tp, mut fp) = (0f64, 0f64);
    let mut best = (f64::INFINITY, 1.0);
    for (_, is_target) in all {
        if is_target {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let fnr = 1.0 - tp / nt;
        let fpr = fp / ni;
        let gap = (fnr - fpr).abs();
        if gap < best.0 {
            best = (gap, (fnr + fpr) / 2.0);
        }
    }
    best.1
}

/// FNMR at the threshold where at most `fmr` of impostors are accepted (score > threshold).
pub fn fnmr_at_fmr(targets: &[f32], impostors: &[f32], fmr: f64) -> f64 {
    if targets.is_empty() || impostors.is_empty() {
        return f64::NAN;
    }
    let mut imp = impostors.to_vec();
    imp.sort_by(|a, b| a.total_cmp(b));
    let n = imp.len();
    let idx = (((1.0 - fmr) * (n - 1) as f64).ceil() as usize).min(n - 1);
    let thr = imp[idx];
    targets.iter().filter(|&&t| t <= thr).count() as f64 / targets.len() as f64
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemResult {
    pub eer: f64,
    pub fnmr_at_fmr_1e_2: f64,
    pub fnmr_at_fmr_1e_3: f64,
    pub fnmr_at_fmr_1e_4: f64,
}

pub fn summarise(targets: &[f32], impostors: &[f32]) -> SystemResult {
    SystemResult {
        eer: eer(targets, impostors),
        fnmr_at_fmr_1e_2: fnmr_at_fmr(targets, impostors, 1e-2),
        fnmr_at_fmr_1e_3: fnmr_at_fmr(targets, impostors, 1e-3),
        fnmr_at_fmr_1e_4: fnmr_at_fmr(targets, impostors, 1e-4),
    }
}

/// (FMR, FNMR) pairs along the threshold sweep, thinned to about `max_points`.
pub fn det_points(targets: &[f32], impostors: &[f32], max_points: usize) -> Vec<(f64, f64)> {
    let mut all: Vec<(f32, bool)> = targets
        .iter()
        .map(|&s| (s, true))
        .chain(impostors.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (nt, ni) = (targets.len() as f64, impostors.len() as f64);
    let (mut tp, mut fp) = (0f64, 0f64);
    let step = (all.len() / max_points.max(1)).max(1);
    let mut out = Vec::new();
    for (i, (_, t)) in all.iter().enumerate() {
        if *t {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if i % step == 0 || fp <= 20.0 {
            out.push((fp / ni, 1.0 - tp / nt));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn separable_scores_have_zero_eer() {
        assert_eq!(eer(&[2.0, 3.0], &[0.0, 1.0]), 0.0);
        assert_eq!(fnmr_at_fmr(&[2.0, 3.0], &[0.0, 1.0], 0.01), 0.0);
    }

    #[test]
    fn overlapping_scores() {
        let t = [0.9f32, 0.8, 0.7, 0.2];
        let i = [0.75f32, 0.1, 0.05, 0.0];
        let e = eer(&t, &i);
        assert!((e - 0.25).abs() < 1e-9, "{e}");
        assert_eq!(fnmr_at_fmr(&t, &i, 0.0), 0.5);
    }
}
