//! Verification error rates: EER, FNMR at a fixed FMR, DET curves (scores: higher = genuine).
//! The one definition every `trustline eval` uses (voice and keystroke), the same as
//! `models/keystroke/metrics.py`: every distinct score is a threshold, so tied scores are never
//! split.

use serde::Serialize;

/// FMR and FNMR at every distinct score used as threshold (accept when score >= threshold).
pub fn rates(genuine: &[f64], impostor: &[f64]) -> Vec<(f64, f64, f64)> {
    let mut g: Vec<f64> = genuine.to_vec();
    let mut i: Vec<f64> = impostor.to_vec();
    g.sort_by(f64::total_cmp);
    i.sort_by(f64::total_cmp);
    let mut thr: Vec<f64> = g.iter().chain(i.iter()).copied().collect();
    thr.sort_by(f64::total_cmp);
    thr.dedup();
    let (ng, ni) = (g.len().max(1) as f64, i.len().max(1) as f64);
    thr.into_iter()
        .map(|t| {
            let imp_below = i.partition_point(|&v| v < t) as f64;
            let gen_below = g.partition_point(|&v| v < t) as f64;
            (t, 1.0 - imp_below / ni, gen_below / ng)
        })
        .collect()
}

/// Equal error rate: the mean of FMR and FNMR where they are closest.
pub fn eer(genuine: &[f64], impostor: &[f64]) -> f64 {
    rates(genuine, impostor)
        .into_iter()
        .min_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
        .map_or(f64::NAN, |(_, fmr, fnmr)| (fmr + fnmr) / 2.0)
}

/// Lowest FNMR at a threshold whose FMR is at most `target`.
pub fn fnmr_at_fmr(genuine: &[f64], impostor: &[f64], target: f64) -> f64 {
    rates(genuine, impostor)
        .into_iter()
        .filter(|r| r.1 <= target)
        .map(|r| r.2)
        .fold(1.0, f64::min)
}

/// The figures reported for one system: EER and FNMR at three false-match rates.
#[derive(Debug, Clone, Serialize)]
pub struct SystemResult {
    pub eer: f64,
    pub fnmr_at_fmr_1e_2: f64,
    pub fnmr_at_fmr_1e_3: f64,
    pub fnmr_at_fmr_1e_4: f64,
}

pub fn summarise(genuine: &[f64], impostor: &[f64]) -> SystemResult {
    SystemResult {
        eer: eer(genuine, impostor),
        fnmr_at_fmr_1e_2: fnmr_at_fmr(genuine, impostor, 1e-2),
        fnmr_at_fmr_1e_3: fnmr_at_fmr(genuine, impostor, 1e-3),
        fnmr_at_fmr_1e_4: fnmr_at_fmr(genuine, impostor, 1e-4),
    }
}

pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// One curve of a DET plot.
#[derive(Debug, Clone)]
pub struct DetCurve {
    pub label: String,
    /// (FMR, FNMR) pairs
    pub points: Vec<(f64, f64)>,
}

impl DetCurve {
    pub fn new(label: impl Into<String>, genuine: &[f64], impostor: &[f64]) -> Self {
        Self {
            label: label.into(),
            points: rates(genuine, impostor)
                .into_iter()
                .map(|(_, fmr, fnmr)| (fmr, fnmr))
                .collect(),
        }
    }
}

/// Draw DET curves on log-log axes into a PNG. The axes reach down to the finest rate the
/// trials can resolve (one impostor in N), so large evaluations show their low-FMR tail.
pub fn plot_det(path: &std::path::Path, title: &str, curves: &[DetCurve]) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let have_font = register_font();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let finest = curves
        .iter()
        .flat_map(|c| c.points.iter().flat_map(|&(a, b)| [a, b]))
        .filter(|&v| v > 0.0)
        .fold(1e-2f64, f64::min);
    let lo = 10f64.powf(finest.log10().floor()).clamp(1e-6, 1e-2);
    let root = BitMapBackend::new(path, (800, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin(20)
        .x_label_area_size(if have_font { 50 } else { 10 })
        .y_label_area_size(if have_font { 60 } else { 10 });
    if have_font {
        builder.caption(title, ("sans-serif", 22));
    }
    let mut chart = builder.build_cartesian_2d((lo..1.0).log_scale(), (lo..1.0).log_scale())?;
    let mut mesh = chart.configure_mesh();
    if have_font {
        mesh.x_desc("false match rate")
            .y_desc("false non-match rate");
    } else {
        mesh.disable_x_axis().disable_y_axis();
    }
    mesh.draw()?;
    let colours = [BLUE, RED, GREEN, MAGENTA, BLACK, CYAN];
    for (k, curve) in curves.iter().enumerate() {
        let colour = colours[k % colours.len()];
        let pts: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|&(a, b)| (a.max(lo), b.max(lo)))
            .collect();
        let series = chart.draw_series(LineSeries::new(pts, colour.stroke_width(2)))?;
        if have_font {
            series
                .label(curve.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        }
    }
    if have_font {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// plotters draws text with a font registered at run time; use the first common system font.
/// Without one (false), the text is left out and the curves are still drawn.
fn register_font() -> bool {
    static FONT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FONT.get_or_init(|| {
        for path in [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
        ] {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font(
                    "sans-serif",
                    plotters::style::FontStyle::Normal,
                    bytes,
                )
                .is_ok()
                {
                    return true;
                }
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eer_of_separable_and_overlapping_scores() {
        assert_eq!(eer(&[2.0, 3.0], &[0.0, 1.0]), 0.0);
        assert_eq!(fnmr_at_fmr(&[2.0, 3.0], &[0.0, 1.0], 0.01), 0.0);
        // One genuine below one impostor: at threshold 0.75 FMR = FNMR = 1/4.
        let g = [0.9, 0.8, 0.7, 0.2];
        let i = [0.75, 0.1, 0.05, 0.0];
        assert!((eer(&g, &i) - 0.25).abs() < 1e-12, "{}", eer(&g, &i));
        assert_eq!(fnmr_at_fmr(&g, &i, 0.0), 0.5);
    }

    #[test]
    fn tied_scores_are_never_split() {
        // Genuine and impostor share the score 0.5: accepting it accepts both.
        let r = rates(&[0.5, 1.0], &[0.5, 0.0]);
        assert_eq!(r, vec![(0.0, 1.0, 0.0), (0.5, 0.5, 0.0), (1.0, 0.0, 0.5)]);
    }
}
