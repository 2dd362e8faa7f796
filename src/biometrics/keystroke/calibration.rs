//! Score -> false-match-rate tables (JSON artifacts listed in `models/manifest.toml`).

use serde::Deserialize;

use super::KeystrokeError;

/// Monotone table of `(score, fmr)` points: the fraction of development impostor attempts that
/// scored at least `score`. Interpolated linearly; never reports less than one impostor in the
/// table (`1 / impostor_scores`), since nothing smaller was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct FmrTable {
    points: Vec<(f64, f64)>,
    floor: f64,
}

#[derive(Deserialize)]
struct TableJson {
    impostor_scores: usize,
    points: Vec<(f64, f64)>,
}

impl FmrTable {
    fn from_json(t: TableJson) -> Result<Self, KeystrokeError> {
        let mut points = t.points;
        if points.len() < 2 || t.impostor_scores == 0 {
            return Err(KeystrokeError::Model("calibration table is empty".into()));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Self {
            points,
            floor: 1.0 / t.impostor_scores as f64,
        })
    }

    /// The free-text table (`models/keystroke/free_text_calibration.json`).
    pub fn parse_single(bytes: &[u8]) -> Result<Self, KeystrokeError> {
        let t: TableJson = serde_json::from_slice(bytes)
            .map_err(|e| KeystrokeError::Model(format!("calibration table: {e}")))?;
        Self::from_json(t)
    }

    /// One table of the fixed-text file (`enrol_10` or `enrol_200`).
    pub fn parse_named(bytes: &[u8], name: &str) -> Result<Self, KeystrokeError> {
        #[derive(Deserialize)]
        struct Doc {
            tables: std::collections::BTreeMap<String, TableJson>,
        }
        let mut doc: Doc = serde_json::from_slice(bytes)
            .map_err(|e| KeystrokeError::Model(format!("calibration table: {e}")))?;
        let t = doc
            .tables
            .remove(name)
            .ok_or_else(|| KeystrokeError::Model(format!("calibration table `{name}` missing")))?;
        Self::from_json(t)
    }

    pub fn fmr(&self, score: f64) -> f64 {
        let p = &self.points;
        let raw = if !score.is_finite() {
            1.0
        } else if score <= p[0].0 {
            p[0].1
        } else if score >= p[p.len() - 1].0 {
            p[p.len() - 1].1
        } else {
            let i = p.partition_point(|q| q.0 <= score);
            let (a, b) = (p[i - 1], p[i]);
            let t = if b.0 > a.0 {
                (score - a.0) / (b.0 - a.0)
            } else {
                0.0
            };
            a.1 + t * (b.1 - a.1)
        };
        raw.clamp(self.floor, 1.0)
    }

    /// The lowest score whose FMR is at most `target` (for thresholds in policies and eval).
    pub fn score_at_fmr(&self, target: f64) -> f64 {
        self.points
            .iter()
            .find(|q| q.1 <= target)
            .map_or(f64::INFINITY, |q| q.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_and_floors() {
        let t = FmrTable::parse_single(
            br#"{"impostor_scores": 100, "points": [[-1.0, 1.0], [0.0, 0.5], [1.0, 0.0]]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!((t.fmr(-0.5) - 0.75).abs() < 1e-12);
        assert_eq!(t.fmr(5.0), 0.01);
        assert_eq!(t.fmr(-5.0), 1.0);
        assert_eq!(t.fmr(f64::NAN), 1.0);
        assert_eq!(t.score_at_fmr(0.5), 0.0);
    }
}
