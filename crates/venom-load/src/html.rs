//! The HTML report: one static file with inline SVG plots (latency and throughput over time)
//! and the summary tables; no script, no stylesheet or font from the network.

use crate::summary::{IntervalStats, LoadSummary, Percentiles, ThresholdStatus};
use std::fmt::Write as _;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;
/// Line colours, one per series (cycled).
const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// A named series of (x, value) points.
pub(crate) struct Series {
    /// Shown in the legend.
    pub name: String,
    /// The points, by increasing x.
    pub points: Vec<(f64, f64)>,
}

/// What a chart's horizontal axis measures.
pub(crate) struct XAxis<'a> {
    /// Its title.
    pub title: &'a str,
    /// The unit after each tick's number.
    pub unit: &'a str,
}

/// Time since the run's start.
const TIME: XAxis<'static> = XAxis {
    title: "time (s)",
    unit: "s",
};

/// The start of a report page: doctype, title, the shared style and the `<h1>`.
pub(crate) fn page_head(title: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}\
.pass{{color:#176b2c;font-weight:bold}}.fail{{color:#b00020;font-weight:bold}}.nodata{{color:#777}}\
svg{{display:block;margin:1em 0}}</style></head><body>\n",
        esc(title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(title));
    h
}

/// Renders `summary` as a self-contained HTML page.
pub fn render_html(summary: &LoadSummary) -> String {
    let title = format!("venom load — {}", summary.scenario);
    let mut h = page_head(&title);
    let _ = writeln!(
        h,
        "<p>{} — ran {:.1} s ({}); {} requests, {} errors ({:.2} %), {:.1} req/s.</p>",
        esc(&summary.plan.description),
        summary.elapsed_s,
        esc(&summary.stop.to_string()),
        summary.overall.count,
        summary.overall.errors,
        summary.overall.error_rate * 100.0,
        summary.overall.rps
    );
    let verdict = if summary.passed() {
        "<p class=\"pass\">PASS</p>"
    } else {
        "<p class=\"fail\">FAIL</p>"
    };
    h.push_str(verdict);

    // A last interval much shorter than the others is kept in the JSON but not plotted: its
    // few requests would show as a spike or a dip. A run shorter than that has only such an
    // interval, which is then all there is to plot.
    let mut intervals: Vec<&IntervalStats> = summary
        .intervals
        .iter()
        .filter(|i| i.full || i.end_s - i.start_s >= summary.plan.interval_s / 2.0)
        .collect();
    if intervals.is_empty() {
        intervals = summary.intervals.iter().collect();
    }
    let intervals = intervals.as_slice();
    let latency_label = if summary.plan.is_open() {
        "latency (ms, from the intended send time)"
    } else {
        "latency (ms)"
    };
    let pick =
        |f: fn(&Percentiles) -> f64| move |i: &IntervalStats| i.overall.latency_ms.as_ref().map(f);
    h.push_str(&chart(
        "Latency over time",
        latency_label,
        &[
            series("p50", intervals, pick(|p| p.p50)),
            series("p95", intervals, pick(|p| p.p95)),
            series("p99", intervals, pick(|p| p.p99)),
            series("max", intervals, pick(|p| p.max)),
        ],
    ));
    h.push_str(&chart(
        "Throughput over time",
        "requests per second",
        &[
            series("requests/s", intervals, |i| Some(i.overall.rps)),
            series("errors/s", intervals, |i| {
                let secs = i.end_s - i.start_s;
                (secs > 0.0).then(|| i.overall.errors as f64 / secs)
            }),
        ],
    ));
    if summary.actions.len() > 1 {
        let per_action: Vec<Series> = summary
            .actions
            .iter()
            .map(|a| {
                series(&a.name, intervals, |i| {
                    i.actions
                        .get(&a.name)
                        .and_then(|w| w.latency_ms.as_ref())
                        .map(|p| p.p95)
                })
            })
            .collect();
        h.push_str(&chart("p95 latency per action", latency_label, &per_action));
    }

    h.push_str("<h2>Actions</h2>\n<table><tr><th>action</th><th>count</th><th>errors</th><th>errors by kind</th><th>req/s</th>");
    for col in [
        "min", "p50", "p90", "p95", "p99", "p99.9", "max", "ttfb p50", "ttfb p95",
    ] {
        let _ = write!(h, "<th>{col}</th>");
    }
    h.push_str("</tr>\n");
    let rows = summary
        .actions
        .iter()
        .map(|a| (a.name.as_str(), &a.stats))
        .chain([("all", &summary.overall)]);
    for (name, s) in rows {
        let kinds: Vec<String> = s
            .errors_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td>",
            esc(name),
            s.count,
            s.errors,
            esc(&kinds.join(", ")),
            s.rps
        );
        match &s.latency_ms {
            Some(p) => {
                for v in [p.min, p.p50, p.p90, p.p95, p.p99, p.p99_9, p.max] {
                    let _ = write!(h, "<td>{v:.2}</td>");
                }
            }
            None => h.push_str("<td colspan=\"7\">no latency recorded</td>"),
        }
        match &s.ttfb_ms {
            Some(t) => {
                let _ = write!(h, "<td>{:.2}</td><td>{:.2}</td>", t.p50, t.p95);
            }
            None => h.push_str("<td>-</td><td>-</td>"),
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<p>Latencies in milliseconds.</p>\n");

    if !summary.flows.is_empty() {
        h.push_str("<h2>Flows</h2>\n<table><tr><th>flow</th><th>actions</th><th>iterations</th><th>failed</th></tr>\n");
        for (flow, plan) in summary.flows.iter().zip(&summary.plan.flows) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&flow.name),
                esc(&plan.actions.join(" → ")),
                flow.iterations,
                flow.failed
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(o) = &summary.open {
        let _ = writeln!(
            h,
            "<h2>Schedule (open model)</h2>\n<p>{} iterations intended, {} started, {} late, {} dropped, max lag {:.1} ms.</p>",
            o.scheduled, o.started, o.late, o.dropped, o.max_lag_ms
        );
    }
    if !summary.thresholds.is_empty() {
        h.push_str("<h2>Thresholds</h2>\n<table><tr><th>threshold</th><th>measured</th><th>verdict</th></tr>\n");
        for t in &summary.thresholds {
            let (class, word) = match t.status {
                ThresholdStatus::Pass => ("pass", "PASS"),
                ThresholdStatus::Fail => ("fail", "FAIL"),
                ThresholdStatus::NoData => ("nodata", "no data"),
            };
            let _ = writeln!(
                h,
                "<tr><td>{} {}</td><td>{}</td><td class=\"{class}\">{word}</td></tr>",
                esc(&t.key),
                esc(&t.condition),
                esc(&t.shown)
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(b) = &summary.baseline {
        let _ = writeln!(
            h,
            "<h2>Baseline</h2>\n<p>{} (tolerance {:.1} %)</p>\n<table><tr><th>metric</th><th>baseline</th><th>now</th><th>change</th><th>verdict</th></tr>",
            esc(&b.file),
            b.tolerance * 100.0
        );
        for c in &b.comparisons {
            let (class, word) = if c.regressed {
                ("fail", "REGRESSION")
            } else {
                ("pass", "ok")
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:+.1} %</td><td class=\"{class}\">{word}</td></tr>",
                esc(&c.metric),
                c.baseline,
                c.current,
                c.change * 100.0
            );
        }
        h.push_str("</table>\n");
    }
    if !summary.failures.is_empty() {
        h.push_str("<h2>Failures (first distinct)</h2>\n<ul>\n");
        for f in &summary.failures {
            let _ = writeln!(h, "<li>{}</li>", esc(f));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn series(
    name: &str,
    intervals: &[&IntervalStats],
    value: impl Fn(&IntervalStats) -> Option<f64>,
) -> Series {
    Series {
        name: name.to_string(),
        points: intervals
            .iter()
            .filter_map(|i| value(i).map(|v| (i.end_s, v)))
            .filter(|(_, v)| v.is_finite())
            .collect(),
    }
}

/// A line chart of `series` against time, with axes, ticks and a legend.
fn chart(title: &str, y_label: &str, series: &[Series]) -> String {
    chart_over(title, y_label, &TIME, series)
}

/// A line chart of `series` against `x`, with axes, ticks and a legend.
pub(crate) fn chart_over(title: &str, y_label: &str, x: &XAxis<'_>, series: &[Series]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<h2>{}</h2>", esc(title));
    let points = series.iter().flat_map(|x| &x.points);
    let (mut x_max, mut y_max) = (0.0f64, 0.0f64);
    let mut any = false;
    for &(x, y) in points {
        x_max = x_max.max(x);
        y_max = y_max.max(y);
        any = true;
    }
    if !any {
        s.push_str("<p>No interval data.</p>\n");
        return s;
    }
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let y_max = nice(y_max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let px = |x: f64| LEFT + x / x_max * plot_w;
    let py = |y: f64| TOP + plot_h - y / y_max * plot_h;
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\" font-size=\"11\">",
        esc(title)
    );
    for i in 0..=4 {
        let fy = y_max * f64::from(i) / 4.0;
        let fx = x_max * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + plot_w,
            LEFT - 4.0,
            py(fy) + 4.0,
            label(fy),
            y = py(fy)
        );
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}{}</text>",
            px(fx),
            TOP + plot_h + 14.0,
            label(fx),
            esc(x.unit)
        );
    }
    let _ = writeln!(
        s,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#444\"/><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>",
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h,
        TOP + plot_h
    );
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{}</text>",
        LEFT + plot_w / 2.0,
        HEIGHT - 4.0,
        esc(x.title),
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        esc(y_label)
    );
    for (i, line) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let coords: Vec<String> = line
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        if coords.len() == 1 {
            let _ = writeln!(
                s,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                px(line.points[0].0),
                py(line.points[0].1)
            );
        } else if !coords.is_empty() {
            let _ = writeln!(
                s,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
                coords.join(" ")
            );
        }
        let ly = TOP + 14.0 * i as f64;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            s,
            "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{color}\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            lx + 16.0,
            lx + 20.0,
            ly + 4.0,
            esc(&line.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The smallest "nice" bound (1, 2, 2.5 or 5 times a power of ten) at or above `v`.
fn nice(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&b| b >= v)
        .unwrap_or(10.0 * magnitude)
}

/// A tick label without needless decimals.
fn label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round())
    } else {
        format!("{v:.2}")
    }
}

/// Escapes text for HTML text and quoted attributes (`&`, `<`, `>`, `"`, `'`).
pub(crate) fn esc(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_bounds_and_escaping() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(21.0), 25.0);
        assert_eq!(nice(1001.0), 2000.0);
        assert_eq!(label(2.5), "2.50");
        assert_eq!(label(20.0), "20");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
