//! The HTML page of a capacity search: the latency and throughput curves against the offered
//! rate, and the stages in a table.

use crate::capacity::CapacityReport;
use crate::html::{chart_over, esc, page_head, Series, XAxis};
use std::fmt::Write as _;

/// The offered rate of a stage.
const RATE: XAxis<'static> = XAxis {
    title: "offered rate (iterations/s)",
    unit: "/s",
};

/// Renders `report` as a self-contained HTML page.
pub fn render_capacity_html(report: &CapacityReport) -> String {
    let mut h = page_head(&format!("venom load capacity — {}", report.scenario));
    let found = match (report.highest_pass, report.first_fail) {
        (Some(pass), Some(fail)) => format!(
            "Highest rate that met every threshold: <b>{pass:.1}/s</b>; first that broke one: <b>{fail:.1}/s</b> ({})",
            esc(&report.broken_by.join("; "))
        ),
        (Some(pass), None) => format!("Every stage met the thresholds, up to <b>{pass:.1}/s</b>."),
        (None, _) => "No stage met the thresholds.".to_string(),
    };
    let _ = writeln!(h, "<p>{found}</p>");
    if let Some(quota) = report.suggested_quota {
        let _ = writeln!(
            h,
            "<p>Suggested quota ({:.0} % of it): <b>{quota:.1}/s</b>.</p>",
            report.quota_fraction * 100.0
        );
    }
    let _ = writeln!(
        h,
        "<p>{} stages in {:.1} s; {}.</p>",
        report.stages.len(),
        report.elapsed_s,
        esc(&report.stop)
    );
    let mut by_rate: Vec<_> = report.stages.iter().collect();
    by_rate.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let curve =
        |name: &str, value: &dyn Fn(&crate::capacity::CapacityStage) -> Option<f64>| Series {
            name: name.to_string(),
            points: by_rate
                .iter()
                .filter_map(|s| value(s).map(|v| (s.rate, v)))
                .collect(),
        };
    let latency = [
        curve("p50", &|s| s.p50_ms),
        curve("p95", &|s| s.p95_ms),
        curve("p99", &|s| s.p99_ms),
    ];
    h.push_str(&chart_over("Latency per stage", "ms", &RATE, &latency));
    let throughput = [
        curve("offered", &|s| Some(s.rate)),
        curve("answered", &|s| Some(s.throughput)),
    ];
    h.push_str(&chart_over(
        "Throughput per stage",
        "requests/s",
        &RATE,
        &throughput,
    ));
    h.push_str("<table><tr><th>stage</th><th>rate /s</th><th>answered /s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors</th><th>verdict</th></tr>\n");
    let ms = |v: Option<f64>| v.map_or_else(|| "—".into(), |v| format!("{v:.2}"));
    for (i, s) in report.stages.iter().enumerate() {
        let verdict = match s.passed {
            true => "<span class=\"pass\">pass</span>".to_string(),
            false => format!(
                "<span class=\"fail\">fail</span> {}",
                esc(&s.broken.join("; "))
            ),
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2} %</td><td>{verdict}</td></tr>",
            i + 1,
            s.rate,
            s.throughput,
            ms(s.p50_ms),
            ms(s.p95_ms),
            ms(s.p99_ms),
            s.error_rate * 100.0
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}
