//! Scores: cosine, adaptive S-norm against a cohort of dev speakers, fusion of CAM++ and GE2E
//! with weights fitted on dev speakers, and score -> false-match-rate calibration.
//!
//! All fitted numbers come from `models/voice/voice_<condition>.json` (written by
//! models/voice/ref_eval.py --fit); speakers used there are never scored in the evaluation.

use serde::{Deserialize, Serialize};

use super::VoiceError;

/// Which channel calibration applies: narrow-band (8 kHz source) audio is scored against the
/// telephone cohort and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    Wideband,
    Telephone,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Wideband => "wideband",
            Condition::Telephone => "telephone",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Calibration {
    pub impostor_mean: f64,
    pub impostor_std: f64,
    pub n_impostor_trials: usize,
    /// Thresholds at decreasing FMRs (empirical quantiles of dev impostor scores).
    pub table: Vec<FmrPoint>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct FmrPoint {
    pub fmr: f64,
    pub threshold: f64,
}

#[derive(Debug, Clone, Deserialize)]
struct SnormSpec {
    top_k: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FusionWeights {
    pub campplus: f64,
    pub ge2e: f64,
    pub bias: f64,
}

#[derive(Debug, Clone, Deserialize)]
struct Calibrations {
    campplus: Calibration,
    ge2e: Calibration,
    fused: Calibration,
}

#[derive(Debug, Clone, Deserialize)]
struct Cohorts {
    campplus: Vec<Vec<f32>>,
    ge2e: Vec<Vec<f32>>,
}

#[derive(Debug, Clone, Deserialize)]
struct ArtifactFile {
    condition: Condition,
    snorm: SnormSpec,
    fusion: FusionWeights,
    calibration: Calibrations,
    cohort: Cohorts,
    #[serde(default)]
    cohort_speaker_ids_sha256: Vec<String>,
}

/// One condition's fitted scoring recipe.
#[derive(Debug, Clone)]
pub struct VoiceScorer {
    pub condition: Condition,
    pub top_k: usize,
    pub fusion: FusionWeights,
    campplus_cal: Calibration,
    ge2e_cal: Calibration,
    fused_cal: Calibration,
    campplus_cohort: Vec<Vec<f32>>,
    ge2e_cohort: Vec<Vec<f32>>,
    /// sha256 prefixes (16 hex) of the cohort speakers' ids: never scored by the evaluation.
    pub cohort_speaker_ids: Vec<String>,
}

/// How an FMR was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FmrSource {
    /// Interpolated between empirical quantiles of dev impostor scores.
    Empirical,
    /// Beyond the dev data: Gaussian tail of the dev impostor scores (an extrapolation).
    GaussianTail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub campplus_cosine: f32,
    pub ge2e_cosine: f32,
    pub campplus_snorm: f32,
    pub ge2e_snorm: f32,
    pub fused: f32,
    pub fmr: f64,
    pub fmr_source: FmrSource,
}

impl VoiceScorer {
    pub fn from_json(id: &str, bytes: &[u8]) -> Result<Self, VoiceError> {
        let bad = |reason: String| VoiceError::Artifact {
            id: id.to_string(),
            reason,
        };
        let f: ArtifactFile = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let dims_ok = f
            .cohort
            .campplus
            .iter()
            .all(|r| r.len() == super::embed::CAMPPLUS_DIM)
            && f.cohort
                .ge2e
                .iter()
                .all(|r| r.len() == super::embed::GE2E_DIM);
        if !dims_ok || f.cohort.campplus.is_empty() || f.cohort.ge2e.is_empty() {
            return Err(bad(
                "cohort embeddings are missing or have the wrong dimension".into(),
            ));
        }
        for cal in [
            &f.calibration.campplus,
            &f.calibration.ge2e,
            &f.calibration.fused,
        ] {
            if cal.table.is_empty() || cal.impostor_std <= 0.0 {
                return Err(bad("calibration table is empty".into()));
            }
        }
        Ok(Self {
            condition: f.condition,
            top_k: f.snorm.top_k.max(1),
            fusion: f.fusion,
            campplus_cal: f.calibration.campplus,
            ge2e_cal: f.calibration.ge2e,
            fused_cal: f.calibration.fused,
            campplus_cohort: f.cohort.campplus,
            ge2e_cohort: f.cohort.ge2e,
            cohort_speaker_ids: f.cohort_speaker_ids_sha256,
        })
    }

    /// Mean and standard deviation of the top-k cohort cosines of `e`.
    pub fn cohort_stats(cohort: &[Vec<f32>], e: &[f32], k: usize) -> (f32, f32) {
        let mut s: Vec<f32> = cohort.iter().map(|c| dot(c, e)).collect();
        s.sort_by(|a, b| b.total_cmp(a));
        let top = &s[..k.min(s.len())];
        let n = top.len() as f32;
        let mean = top.iter().sum::<f32>() / n;
        let var = top.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        (mean, var.sqrt() + 1e-6)
    }

    pub fn campplus_stats(&self, e: &[f32]) -> (f32, f32) {
        Self::cohort_stats(&self.campplus_cohort, e, self.top_k)
    }

    pub fn ge2e_stats(&self, e: &[f32]) -> (f32, f32) {
        Self::cohort_stats(&self.ge2e_cohort, e, self.top_k)
    }

    /// Adaptive S-norm of a cosine given the enrolment-side and test-side cohort statistics.
    pub fn snorm(cos: f32, enrol: (f32, f32), test: (f32, f32)) -> f32 {
        0.5 * ((cos - enrol.0) / enrol.1 + (cos - test.0) / test.1)
    }

    pub fn fuse(&self, campplus_snorm: f32, ge2e_snorm: f32) -> f32 {
        (self.fusion.campplus * f64::from(campplus_snorm)
            + self.fusion.ge2e * f64::from(ge2e_snorm)) as f32
    }

    /// Full scoring of one test utterance against an enrolled template.
    pub fn score(
        &self,
        enrol_campplus: &[f32],
        enrol_ge2e: &[f32],
        test_campplus: &[f32],
        test_ge2e: &[f32],
    ) -> Scores {
        let cc = dot(enrol_campplus, test_campplus);
        let gc = dot(enrol_ge2e, test_ge2e);
        let cs = Self::snorm(
            cc,
            self.campplus_stats(enrol_campplus),
            self.campplus_stats(test_campplus),
        );
        let gs = Self::snorm(gc, self.ge2e_stats(enrol_ge2e), self.ge2e_stats(test_ge2e));
        let fused = self.fuse(cs, gs);
        let (fmr, fmr_source) = fmr(&self.fused_cal, f64::from(fused));
        Scores {
            campplus_cosine: cc,
            ge2e_cosine: gc,
            campplus_snorm: cs,
            ge2e_snorm: gs,
            fused,
            fmr,
            fmr_source,
        }
    }

    /// Calibrated FMR of a fused score.
    pub fn fused_fmr(&self, fused: f64) -> f64 {
        fmr(&self.fused_cal, fused).0
    }

    /// FMR of a single-model S-norm score (reported per model in decisions).
    pub fn campplus_fmr(&self, snorm: f32) -> f64 {
        fmr(&self.campplus_cal, f64::from(snorm)).0
    }

    pub fn ge2e_fmr(&self, snorm: f32) -> f64 {
        fmr(&self.ge2e_cal, f64::from(snorm)).0
    }

    /// The rarest false-match rate the development data measured for the fused score. Rates
    /// below it are extrapolated (Gaussian tail): shown as evidence, never used to decide.
    pub fn measured_fmr_floor(&self) -> f64 {
        self.fused_cal.table.last().map_or(1.0, |p| p.fmr)
    }

    /// Fused-score threshold for a target FMR (the tightest the table or tail supports).
    pub fn threshold_for_fmr(&self, target: f64) -> f64 {
        threshold(&self.fused_cal, target)
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The FMR a decision may rely on: a measured rate as is, an extrapolated one raised to the
/// rarest rate actually measured (NIST SP 800-63B asks for a demonstrated FMR; a tail model
/// extrapolated far beyond the data demonstrates nothing).
pub fn decision_fmr(fmr: f64, source: FmrSource, measured_floor: f64) -> f64 {
    match source {
        FmrSource::Empirical => fmr,
        FmrSource::GaussianTail => fmr.max(measured_floor),
    }
}

/// Score -> FMR: log-linear interpolation between the empirical table points; above the last
/// point (rarer than the dev data can show) the Gaussian tail of the dev impostor scores.
pub fn fmr(cal: &Calibration, score: f64) -> (f64, FmrSource) {
    let tail =
        0.5 * erfc((score - cal.impostor_mean) / (cal.impostor_std * std::f64::consts::SQRT_2));
    let t = &cal.table;
    let first = t[0];
    let last = t[t.len() - 1];
    if score <= first.threshold {
        return (tail.max(first.fmr).min(1.0), FmrSource::Empirical);
    }
    if score >= last.threshold {
        return (tail.min(last.fmr), FmrSource::GaussianTail);
    }
    for w in t.windows(2) {
        let (a, b) = (w[0], w[1]);
        if score >= a.threshold && score <= b.threshold {
            let span = (b.threshold - a.threshold).max(1e-12);
            let x = (score - a.threshold) / span;
            let l = a.fmr.ln() + x * (b.fmr.ln() - a.fmr.ln());
            return (l.exp(), FmrSource::Empirical);
        }
    }
    (last.fmr, FmrSource::Empirical)
}

fn threshold(cal: &Calibration, target: f64) -> f64 {
    // Bisection on the monotone score -> FMR map.
    let (mut lo, mut hi) = (
        cal.impostor_mean - 10.0 * cal.impostor_std,
        cal.impostor_mean + 40.0 * cal.impostor_std,
    );
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if fmr(cal, mid).0 > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Complementary error function (Numerical Recipes `erfcc`, fractional error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn cal() -> Calibration {
        Calibration {
            impostor_mean: 0.0,
            impostor_std: 1.0,
            n_impostor_trials: 10_000,
            table: vec![
                FmrPoint {
                    fmr: 0.5,
                    threshold: 0.0,
                },
                FmrPoint {
                    fmr: 0.1,
                    threshold: 1.28,
                },
                FmrPoint {
                    fmr: 0.01,
                    threshold: 2.33,
                },
                FmrPoint {
                    fmr: 0.001,
                    threshold: 3.09,
                },
            ],
        }
    }

    #[test]
    fn erfc_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((0.5 * erfc(3.719 / std::f64::consts::SQRT_2) - 1e-4).abs() / 1e-4 < 1e-3);
        assert!((erfc(-1.0) - 1.842700793).abs() < 1e-7);
    }

    #[test]
    fn fmr_is_monotone_and_uses_the_tail_beyond_the_table() {
        let c = cal();
        let mut prev = 1.0;
        for i in 0..100 {
            let s = -1.0 + i as f64 * 0.06;
            let (f, _) = fmr(&c, s);
            assert!(f <= prev + 1e-12, "{s} {f} {prev}");
            prev = f;
        }
        assert_eq!(fmr(&c, 1.0).1, FmrSource::Empirical);
        let (f, src) = fmr(&c, 3.719);
        assert_eq!(src, FmrSource::GaussianTail);
        assert!((f - 1e-4).abs() < 2e-6);
        assert!((threshold(&c, 0.01) - 2.33).abs() < 1e-3);
    }

    #[test]
    fn decisions_never_use_an_extrapolated_fmr_below_the_measured_one() {
        let c = cal();
        let floor = c.table[c.table.len() - 1].fmr;
        let (f, src) = fmr(&c, 8.0);
        assert_eq!(src, FmrSource::GaussianTail);
        assert!(
            f < floor * 1e-6,
            "the tail extrapolates far below the data: {f}"
        );
        assert_eq!(decision_fmr(f, src, floor), floor);
        let (f, src) = fmr(&c, 1.0);
        assert_eq!(decision_fmr(f, src, floor), f);
    }

    #[test]
    fn snorm_of_a_cohort_like_score_is_zero() {
        let s = VoiceScorer::snorm(0.3, (0.3, 0.1), (0.3, 0.2));
        assert!(s.abs() < 1e-6);
    }
}
