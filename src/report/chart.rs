//! One metric's history as an SVG chart, drawn with plotters: the value of
//! each run, the band between the baseline and the target the policy
//! computed, pass/warn/fail markers, deployments, change points and runner
//! changes. Every drawn point carries a `<title>` (run, revision, value),
//! which browsers show on hover. Long histories are downsampled for drawing
//! (largest triangle three buckets), keeping every warn and fail marker
//! that fits.
//!
//! Size: the drawing steps share one chart's scale, coordinates and
//! markers; split, each would pass them back and forth.

use crate::decision::ObjectiveStatus;
use crate::units::format_with_unit;
use plotters::prelude::*;

/// The target line's colour (its lines are dashed by [`dashed`]).
const TARGET: RGBColor = RGBColor(66, 133, 244);
/// The change points' colour (dashed too).
const CHANGE_POINT: RGBColor = RGBColor(230, 120, 0);
const RUNNER_CHANGE: RGBColor = RGBColor(40, 110, 200);
const REBASELINE: RGBColor = RGBColor(30, 150, 90);

/// Dashes every line plotters drew in `colour` with `pattern`.
fn dashed(svg: &str, colour: RGBColor, pattern: &str) -> String {
    let stroke = format!(
        "stroke=\"#{:02X}{:02X}{:02X}\"",
        colour.0, colour.1, colour.2
    );
    svg.lines()
        .map(|l| {
            if l.trim_start().starts_with("<polyline") && l.contains(&stroke) {
                l.replacen(
                    &stroke,
                    &format!("{stroke} stroke-dasharray=\"{pattern}\""),
                    1,
                )
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Points drawn at most per chart, whatever the history's length.
pub const MAX_DRAWN: usize = 400;

/// One run's value of the metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPoint {
    pub run_id: String,
    pub at: String,
    pub revision: Option<String>,
    /// The fingerprint of the machine it ran on.
    pub runner: Option<String>,
    pub value: f64,
    /// The worst status of the objectives on this metric in that run.
    pub status: Option<ObjectiveStatus>,
    /// Each objective's limits on the metric in that run: its id, the
    /// baseline and the target.
    pub limits: Vec<Limit>,
    /// Whether the point is on the series' line: a run of its main branch
    /// that is no pull request. Others are drawn as marked points apart.
    pub on_line: bool,
    /// What an off-line point is: `feature/x`, `pull request #7 (feature/x)`.
    pub label: Option<String>,
}

/// One objective's limits in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub objective: String,
    pub baseline: Option<f64>,
    pub target: Option<f64>,
}

/// A metric's history, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub key: String,
    pub unit: Option<String>,
    pub points: Vec<ChartPoint>,
    /// Deployments, as the position (in runs) where they happened: a
    /// deployment between runs 3 and 4 is at 3.5.
    pub deployments: Vec<(f64, String)>,
    /// Change points, as the index of the first run after the change.
    pub change_points: Vec<usize>,
    /// Where the line's runs moved to another runner (another machine
    /// fingerprint), as the index of the first run on it.
    pub runner_changes: Vec<usize>,
    /// Where an acknowledged change (`from: REV`) starts the baseline
    /// anew, as the index of the first run judged under it, with REV.
    pub rebaselines: Vec<(usize, String)>,
}

fn status_class(s: Option<ObjectiveStatus>) -> &'static str {
    match s {
        Some(ObjectiveStatus::Pass) => "pass",
        Some(ObjectiveStatus::Warn) => "warn",
        Some(ObjectiveStatus::Fail) => "fail",
        Some(ObjectiveStatus::NoData) => "no-data",
        Some(ObjectiveStatus::NoBaseline) => "no-baseline",
        Some(ObjectiveStatus::Inconclusive) => "inconclusive",
        Some(ObjectiveStatus::Acknowledged) => "acknowledged",
        None => "none",
    }
}

/// XML text and attribute escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The indices to draw: all of them when they fit, else a downsample that
/// keeps the shape (LTTB) plus the warn and fail markers (newest first when
/// even those do not fit). Sorted.
pub fn drawn_indices(points: &[ChartPoint], max: usize) -> Vec<usize> {
    let n = points.len();
    if n <= max {
        return (0..n).collect();
    }
    let marked: Vec<usize> = (0..n)
        .rev()
        .filter(|&i| {
            matches!(
                points[i].status,
                Some(ObjectiveStatus::Warn | ObjectiveStatus::Fail)
            )
        })
        .take(max / 2)
        .collect();
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let mut keep = lttb(&values, max - marked.len());
    keep.extend(marked);
    keep.sort_unstable();
    keep.dedup();
    keep
}

/// Largest triangle three buckets: `threshold` indices of `y` (x is the
/// index) that keep the line's visual shape.
fn lttb(y: &[f64], threshold: usize) -> Vec<usize> {
    let n = y.len();
    if threshold >= n || threshold < 3 {
        return (0..n).step_by((n / threshold.max(1)).max(1)).collect();
    }
    let mut out = Vec::with_capacity(threshold);
    out.push(0);
    let every = (n - 2) as f64 / (threshold - 2) as f64;
    let mut a = 0usize;
    for i in 0..threshold - 2 {
        let start = ((i + 1) as f64 * every) as usize + 1;
        let end = (((i + 2) as f64 * every) as usize + 1).min(n);
        let (avg_x, avg_y) = if start < end {
            let len = (end - start) as f64;
            (
                (start..end).sum::<usize>() as f64 / len,
                y[start..end].iter().sum::<f64>() / len,
            )
        } else {
            ((n - 1) as f64, y[n - 1])
        };
        let lo = (i as f64 * every) as usize + 1;
        let hi = (((i + 1) as f64 * every) as usize + 1).min(n - 1);
        let mut best = lo;
        let mut best_area = -1.0;
        for j in lo..hi.max(lo + 1) {
            let area =
                ((a as f64 - avg_x) * (y[j] - y[a]) - (a as f64 - j as f64) * (avg_y - y[a])).abs();
            if area > best_area {
                best_area = area;
                best = j;
            }
        }
        out.push(best);
        a = best;
    }
    out.push(n - 1);
    out
}

/// The chart of `series` as a standalone SVG document.
pub fn svg(series: &ChartSeries, width: u32, height: u32) -> String {
    let unit = series.unit.as_deref().unwrap_or("");
    let drawn = drawn_indices(&series.points, MAX_DRAWN);
    let n = series.points.len();
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in &series.points {
        let limits = p.limits.iter().flat_map(|l| [l.baseline, l.target]);
        for v in std::iter::once(Some(p.value)).chain(limits).flatten() {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.08
    } else {
        lo.abs().max(1.0) * 0.1
    };
    let (y0, y1) = (lo - pad, hi + pad);
    let x1 = (n.max(2) - 1) as f64;

    let mut buf = String::new();
    let mut coords: Vec<(usize, (i32, i32))> = Vec::with_capacity(drawn.len());
    {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        let _ = root.fill(&WHITE);
        // The ticks carry the unit, in the scale people read.
        let caption = series.key.clone();
        let built = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            // Room for the last date label and for the axis title below the dates.
            .margin_right(34)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x1, y0..y1);
        let Ok(mut chart) = built else {
            return String::new();
        };
        let _ = chart
            .configure_mesh()
            .max_light_lines(0)
            .bold_line_style(RGBColor(235, 235, 235))
            .x_labels(n.clamp(2, 10))
            .y_labels(6)
            .x_desc("run date (UTC); hover a point for its run and revision")
            .x_label_formatter(&|x| {
                let i = (x.round().max(0.0) as usize).min(n.saturating_sub(1));
                series.points.get(i).map_or_else(String::new, |p| {
                    // `2026-12-02T13:33…` as `12-02 13:33`.
                    p.at.get(5..16).unwrap_or(&p.at).replace('T', " ")
                })
            })
            // Ticks in the unit people read, as the table shows values.
            .y_label_formatter(&|y| format_with_unit(*y, unit))
            .draw();
        let line: Vec<usize> = drawn
            .iter()
            .copied()
            .filter(|&i| series.points[i].on_line)
            .collect();
        // Each objective's band, from its baseline to its target, and its
        // target as a dashed line.
        let mut objectives: Vec<&str> = Vec::new();
        for p in &series.points {
            for l in &p.limits {
                if !objectives.contains(&l.objective.as_str()) {
                    objectives.push(&l.objective);
                }
            }
        }
        let band = RGBColor(66, 133, 244).mix(0.15);
        for id in &objectives {
            let limit = |i: usize| series.points[i].limits.iter().find(|l| l.objective == *id);
            let mut run: Vec<usize> = Vec::new();
            let flush = |run: &mut Vec<usize>, chart: &mut ChartContext<_, _>| {
                if run.len() >= 2 {
                    let upper = run.iter().map(|&i| {
                        let l = limit(i).expect("in the run");
                        (i as f64, l.target.unwrap_or(series.points[i].value))
                    });
                    let lower = run.iter().rev().map(|&i| {
                        let l = limit(i).expect("in the run");
                        (i as f64, l.baseline.unwrap_or(series.points[i].value))
                    });
                    let _ = chart.draw_series(std::iter::once(Polygon::new(
                        upper.chain(lower).collect::<Vec<_>>(),
                        band.filled(),
                    )));
                }
                run.clear();
            };
            for &i in &line {
                if limit(i).is_some_and(|l| l.baseline.is_some() && l.target.is_some()) {
                    run.push(i);
                } else {
                    flush(&mut run, &mut chart);
                }
            }
            flush(&mut run, &mut chart);
            let target_line: Vec<(f64, f64)> = line
                .iter()
                .filter_map(|&i| limit(i).and_then(|l| l.target).map(|t| (i as f64, t)))
                .collect();
            let _ = chart.draw_series(LineSeries::new(target_line, TARGET.stroke_width(1)));
        }
        // Dashed lines are drawn whole and dashed by SVG (`stroke-dasharray`
        // below): one path, not one per dash.
        for (x, _) in &series.deployments {
            let _ = chart.draw_series(std::iter::once(PathElement::new(
                vec![(*x, y0), (*x, y1)],
                RGBColor(120, 80, 200).stroke_width(2),
            )));
        }
        let rebaselines: Vec<usize> = series.rebaselines.iter().map(|(i, _)| *i).collect();
        for (marks, colour) in [
            (&series.change_points, CHANGE_POINT),
            (&series.runner_changes, RUNNER_CHANGE),
            (&rebaselines, REBASELINE),
        ] {
            for &c in marks {
                let x = c as f64 - 0.5;
                let _ = chart.draw_series(LineSeries::new(
                    vec![(x, y0), (x, y1)],
                    colour.stroke_width(2),
                ));
            }
        }
        let _ = chart.draw_series(LineSeries::new(
            line.iter().map(|&i| (i as f64, series.points[i].value)),
            RGBColor(60, 60, 60).stroke_width(1),
        ));
        for &i in &drawn {
            coords.push((i, chart.backend_coord(&(i as f64, series.points[i].value))));
        }
        let _ = root.present();
    }
    // Markers with their hover text, in qod's own group so a page can find them.
    let mut marks = String::from("<g class=\"points\">");
    let mut markers = 0usize;
    for (i, (cx, cy)) in &coords {
        let p = &series.points[*i];
        let class = status_class(p.status);
        if matches!(
            p.status,
            Some(ObjectiveStatus::Warn | ObjectiveStatus::Fail)
        ) {
            markers += 1;
        }
        let mut title = format!(
            "run {} ({})\n{}\nvalue {}",
            i + 1,
            p.run_id,
            p.at,
            format_with_unit(p.value, unit)
        );
        if let Some(r) = &p.revision {
            title.push_str(&format!("\nrevision {}", &r[..r.len().min(12)]));
        }
        if let Some(l) = &p.label {
            title.push_str(&format!("\n{l}"));
        }
        for l in &p.limits {
            if let Some(t) = l.target {
                if p.limits.len() == 1 {
                    title.push_str(&format!("\ntarget {}", format_with_unit(t, unit)));
                } else {
                    title.push_str(&format!(
                        "\ntarget of {} {}",
                        l.objective,
                        format_with_unit(t, unit)
                    ));
                }
            }
        }
        if let Some(s) = p.status {
            title.push_str(&format!("\nstatus {}", status_class(Some(s))));
        }
        if p.on_line {
            marks.push_str(&format!(
                "<circle class=\"point {class}\" cx=\"{cx}\" cy=\"{cy}\" r=\"{}\" data-run=\"{}\"><title>{}</title></circle>",
                if matches!(class, "warn" | "fail") { 4.0 } else { 2.5 },
                escape(&p.run_id),
                escape(&title)
            ));
        } else {
            // Another branch or a pull request: a diamond, off the line.
            marks.push_str(&format!(
                "<path class=\"point off-line {class}\" d=\"M{cx} {} l5 5 l-5 5 l-5 -5 z\" data-run=\"{}\"><title>{}</title></path>",
                cy - 5,
                escape(&p.run_id),
                escape(&title)
            ));
        }
    }
    marks.push_str("</g>");
    let style = "<style>.point{stroke:#fff;stroke-width:1}.point.pass{fill:#1a7f37}.point.warn{fill:#d4a72c}.point.fail{fill:#cf222e}.point.acknowledged{fill:#1e965a}.point.none,.point.no-data,.point.no-baseline,.point.inconclusive{fill:#6e7781}.point:hover{stroke:#000;stroke-width:2}.point.off-line{stroke:#000;stroke-width:1}</style>";
    let attrs = format!(
        "<svg class=\"qod-chart\" data-metric=\"{}\" data-runs=\"{n}\" data-drawn=\"{}\" data-off-line=\"{}\" data-markers=\"{markers}\" data-deployments=\"{}\" data-change-points=\"{}\" data-runner-changes=\"{}\" data-rebaselines=\"{}\" ",
        escape(&series.key),
        coords.len(),
        coords.iter().filter(|(i, _)| !series.points[*i].on_line).count(),
        series.deployments.len(),
        series.change_points.len(),
        series.runner_changes.len(),
        series.rebaselines.len()
    );
    let buf = dashed(&buf, TARGET, "4 3");
    let buf = dashed(&buf, CHANGE_POINT, "6 4");
    let buf = dashed(&buf, RUNNER_CHANGE, "2 3");
    let buf = dashed(&buf, REBASELINE, "8 3");
    let mut out = buf.replacen("<svg ", &attrs, 1);
    match out.rfind("</svg>") {
        Some(end) => out.insert_str(end, &format!("{style}{marks}")),
        None => out.push_str(&marks),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(i: usize, value: f64, status: Option<ObjectiveStatus>) -> ChartPoint {
        ChartPoint {
            run_id: format!("r{i}"),
            at: "2026-11-23T10:00:00Z".into(),
            revision: None,
            runner: None,
            value,
            status,
            limits: Vec::new(),
            on_line: true,
            label: None,
        }
    }

    #[test]
    fn downsampling_keeps_ends_and_marked_runs() {
        let points: Vec<ChartPoint> = (0..10_000)
            .map(|i| {
                let s = (i % 997 == 0).then_some(ObjectiveStatus::Fail);
                point(i, (i as f64).sin(), s)
            })
            .collect();
        let d = drawn_indices(&points, MAX_DRAWN);
        assert!(d.len() <= MAX_DRAWN, "{}", d.len());
        assert_eq!(d[0], 0);
        assert_eq!(*d.last().unwrap(), 9_999);
        for i in (0..10_000).filter(|i| i % 997 == 0) {
            assert!(d.contains(&i), "fail marker {i} dropped");
        }
        assert!(d.windows(2).all(|w| w[0] < w[1]));
    }
}
