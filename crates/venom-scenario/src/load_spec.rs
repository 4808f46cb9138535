//! The `[load]` table: flows for load runs and SLO thresholds, with the threshold grammar.
//!
//! A threshold is a key naming a metric and a string condition:
//!
//! ```text
//! key       = "drift" | scope "." stat
//! scope     = "http" | <action name>
//! stat      = "min" | "mean" | "p50" | "p90" | "p95" | "p99" | "p99.9" | "max"   (durations)
//!           | "error_rate" | "drift"                                             (percentages)
//!           | "rps" | "count"                                                    (plain numbers)
//! condition = op number unit          (spaces allowed between the parts)
//! op        = "<" | "<=" | ">" | ">="
//! unit      = "ms" | "s"   for durations  (value kept in milliseconds)
//!           | "%"          for percentages (value kept as a fraction: 1% -> 0.01)
//!           | ""           for rps and count
//! ```
//!
//! `drift` alone means `http.drift`: the relative change of the median latency from the first
//! to the last full interval of the run (`+25%` = 25 % slower at the end). Only `drift`
//! conditions may use a negative number.

use std::fmt;

/// The `[load]` table of a scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadSpec {
    /// Flows, in file order (may be empty: then the command line must name the actions).
    pub flows: Vec<FlowSpec>,
    /// Thresholds, in file order.
    pub thresholds: Vec<ThresholdSpec>,
    /// Stop the run as soon as a threshold is certainly broken (see the load documentation).
    pub abort_on_fail: bool,
}

impl LoadSpec {
    /// The flow named `name`.
    pub fn flow(&self, name: &str) -> Option<&FlowSpec> {
        self.flows.iter().find(|f| f.name == name)
    }
}

/// An ordered list of the scenario's actions that one virtual user runs per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSpec {
    /// Unique flow name, `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// Names of existing actions, in the order they run (at least one).
    pub actions: Vec<String>,
    /// Relative share of iterations (finite, > 0; default 1.0).
    pub weight: f64,
}

/// One SLO threshold: a metric compared with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdSpec {
    /// The key as written (`create_order.p95`, `drift`).
    pub key: String,
    /// The condition as written (`< 300ms`).
    pub condition: String,
    /// What is measured.
    pub metric: Metric,
    /// How the measured value is compared.
    pub op: CompareOp,
    /// The bound: milliseconds for durations, a fraction for percentages, else plain.
    pub value: f64,
}

impl ThresholdSpec {
    /// Parses a threshold key and condition (action names are not checked here).
    pub fn parse(key: &str, condition: &str) -> Result<ThresholdSpec, ThresholdError> {
        let metric = Metric::parse(key).map_err(|(offset, message)| ThresholdError {
            in_key: true,
            offset,
            message,
        })?;
        let (op, value) =
            parse_condition(condition, metric.stat).map_err(|(offset, message)| {
                ThresholdError {
                    in_key: false,
                    offset,
                    message,
                }
            })?;
        Ok(ThresholdSpec {
            key: key.to_string(),
            condition: condition.trim().to_string(),
            metric,
            op,
            value,
        })
    }

    /// Whether `measured` (in the metric's unit: ms, fraction or plain) satisfies the condition.
    pub fn holds(&self, measured: f64) -> bool {
        self.op.holds(measured, self.value)
    }
}

impl fmt::Display for ThresholdSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key, self.condition)
    }
}

/// Why a threshold key or condition is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThresholdError {
    /// Whether the problem is in the key (else in the condition).
    pub in_key: bool,
    /// Byte offset of the problem in the key or condition.
    pub offset: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ThresholdError {}

/// Every statistic a threshold may name, as errors list them (families written once, to stay
/// short).
const STATISTICS: &str = "one of `p50`, `p90`, `p95`, `p99`, `p99.9`, `max`, `min`, `mean`, \
`error_rate`, `rps`, `count`, `drift`, `ttfb_p95|p99`, `gap_p50|p95|p99|max`, `stream_p95`, \
`chunks_per_s`, `status_NNN.count|rate`";

/// A measured quantity: a statistic of all requests or of one action's requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Metric {
    /// Whose requests.
    pub scope: Scope,
    /// Which statistic.
    pub stat: Stat,
}

impl Metric {
    /// Parses `drift` or `<scope>.<stat>`; errors carry the byte offset in `key`.
    fn parse(key: &str) -> Result<Metric, (usize, String)> {
        // As messages quote it: a key of any length is shown short.
        let shown = crate::limits::quoted(key);
        if key == "drift" {
            return Ok(Metric {
                scope: Scope::Http,
                stat: Stat::Drift,
            });
        }
        let Some((scope, stat)) = key.split_once('.') else {
            return Err((
                0,
                format!("invalid threshold metric `{shown}`, expected `<action>.<stat>`, `http.<stat>` or `drift`"),
            ));
        };
        let scope = match scope {
            "http" => Scope::Http,
            "" => {
                return Err((
                    0,
                    format!("missing action in threshold metric `{shown}`, expected `<action>.<stat>` or `http.<stat>`"),
                ))
            }
            name => Scope::Action(name.to_string()),
        };
        let stat_offset = key.len() - stat.len();
        let stat = Stat::from_name(stat).ok_or_else(|| {
            (
                stat_offset,
                format!(
                    "unknown statistic `{}` {}, expected {}",
                    crate::limits::quoted(stat),
                    // A long key is the statistic again: said once.
                    match shown == key {
                        true => format!("in threshold metric `{key}`"),
                        false => "in a threshold metric".to_string(),
                    },
                    STATISTICS
                ),
            )
        })?;
        Ok(Metric { scope, stat })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.scope {
            Scope::Http => write!(f, "http.{}", self.stat.name()),
            Scope::Action(name) => write!(f, "{name}.{}", self.stat.name()),
        }
    }
}

/// Whose requests a metric covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every request of the run.
    Http,
    /// The requests of one action.
    Action(String),
}

/// A statistic over requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    /// Smallest latency.
    Min,
    /// Mean latency.
    Mean,
    /// Median latency.
    P50,
    /// 90th percentile latency.
    P90,
    /// 95th percentile latency.
    P95,
    /// 99th percentile latency.
    P99,
    /// 99.9th percentile latency.
    P999,
    /// Largest latency.
    Max,
    /// Failed requests / requests.
    ErrorRate,
    /// Requests per second over the run.
    Rps,
    /// Number of requests.
    Count,
    /// Relative change of the median from the first to the last full interval.
    Drift,
    /// 95th percentile time to first byte.
    TtfbP95,
    /// 99th percentile time to first byte.
    TtfbP99,
    /// Median gap between a stream's chunks.
    GapP50,
    /// 95th percentile gap between a stream's chunks.
    GapP95,
    /// 99th percentile gap between a stream's chunks.
    GapP99,
    /// Largest gap between a stream's chunks.
    GapMax,
    /// 95th percentile of a stream's total time.
    StreamP95,
    /// Chunks per second of streaming.
    ChunksPerS,
    /// Responses with this status code (`status_429.count`).
    StatusCount(u16),
    /// Responses with this status code per second over the run (`status_429.rate`).
    StatusRate(u16),
}

/// What a statistic measures, and so which unit its bound needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// A latency; bounds in `ms` or `s`, kept in milliseconds.
    Time,
    /// A ratio; bounds in `%`, kept as a fraction.
    Ratio,
    /// A plain number (requests, requests per second).
    Plain,
}

impl Stat {
    /// Every statistic, in the order documented.
    pub const ALL: [Stat; 20] = [
        Stat::P50,
        Stat::P90,
        Stat::P95,
        Stat::P99,
        Stat::P999,
        Stat::Max,
        Stat::Min,
        Stat::Mean,
        Stat::ErrorRate,
        Stat::Rps,
        Stat::Count,
        Stat::Drift,
        Stat::TtfbP95,
        Stat::TtfbP99,
        Stat::GapP50,
        Stat::GapP95,
        Stat::GapP99,
        Stat::GapMax,
        Stat::StreamP95,
        Stat::ChunksPerS,
    ];

    /// The name used in threshold keys.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed(match self {
            Stat::Min => "min",
            Stat::Mean => "mean",
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
            Stat::Max => "max",
            Stat::ErrorRate => "error_rate",
            Stat::Rps => "rps",
            Stat::Count => "count",
            Stat::Drift => "drift",
            Stat::TtfbP95 => "ttfb_p95",
            Stat::TtfbP99 => "ttfb_p99",
            Stat::GapP50 => "gap_p50",
            Stat::GapP95 => "gap_p95",
            Stat::GapP99 => "gap_p99",
            Stat::GapMax => "gap_max",
            Stat::StreamP95 => "stream_p95",
            Stat::ChunksPerS => "chunks_per_s",
            Stat::StatusCount(code) => return format!("status_{code}.count").into(),
            Stat::StatusRate(code) => return format!("status_{code}.rate").into(),
        })
    }

    /// The statistic named `name`: one of [`Stat::ALL`], or `status_NNN.count` /
    /// `status_NNN.rate` for a status code from 100 to 599.
    fn from_name(name: &str) -> Option<Stat> {
        if let Some(rest) = name.strip_prefix("status_") {
            let (digits, which) = rest.split_once('.')?;
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let code: u16 = digits.parse().ok().filter(|c| (100..=599).contains(c))?;
            return match which {
                "count" => Some(Stat::StatusCount(code)),
                "rate" => Some(Stat::StatusRate(code)),
                _ => None,
            };
        }
        Stat::ALL.into_iter().find(|s| s.name() == name)
    }

    /// What the statistic measures.
    pub fn dimension(self) -> Dimension {
        match self {
            Stat::Min
            | Stat::Mean
            | Stat::P50
            | Stat::P90
            | Stat::P95
            | Stat::P99
            | Stat::P999
            | Stat::Max
            | Stat::TtfbP95
            | Stat::TtfbP99
            | Stat::GapP50
            | Stat::GapP95
            | Stat::GapP99
            | Stat::GapMax
            | Stat::StreamP95 => Dimension::Time,
            Stat::ErrorRate | Stat::Drift => Dimension::Ratio,
            Stat::Rps
            | Stat::Count
            | Stat::ChunksPerS
            | Stat::StatusCount(_)
            | Stat::StatusRate(_) => Dimension::Plain,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// `measured op bound`.
    pub fn holds(self, measured: f64, bound: f64) -> bool {
        match self {
            CompareOp::Lt => measured < bound,
            CompareOp::Le => measured <= bound,
            CompareOp::Gt => measured > bound,
            CompareOp::Ge => measured >= bound,
        }
    }

    /// Whether the condition is an upper bound (`<`, `<=`).
    pub fn is_upper_bound(self) -> bool {
        matches!(self, CompareOp::Lt | CompareOp::Le)
    }
}

/// Parses `op number unit` for `stat`; errors carry the byte offset in `condition`.
fn parse_condition(condition: &str, stat: Stat) -> Result<(CompareOp, f64), (usize, String)> {
    // As messages quote it: a condition of any length is shown short.
    let shown = crate::limits::quoted(condition);
    let expected = match stat.dimension() {
        Dimension::Time => "a duration such as `< 300ms` or `<= 1.5s`",
        Dimension::Ratio => "a percentage such as `< 1%`",
        Dimension::Plain => "a plain number such as `> 100`",
    };
    let start = condition.len() - condition.trim_start().len();
    let rest = &condition[start..];
    let (op, op_len) = if rest.starts_with("<=") {
        (CompareOp::Le, 2)
    } else if rest.starts_with(">=") {
        (CompareOp::Ge, 2)
    } else if rest.starts_with('<') {
        (CompareOp::Lt, 1)
    } else if rest.starts_with('>') {
        (CompareOp::Gt, 1)
    } else {
        return Err((
            start,
            format!(
                "invalid threshold condition `{shown}`: missing operator, expected `<`, `<=`, `>` or `>=` then {expected}"
            ),
        ));
    };
    let after_op = &rest[op_len..];
    let number_at = start + op_len + (after_op.len() - after_op.trim_start().len());
    let body = condition[number_at..].trim_end();
    let number_len = body
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(body.len(), |(i, _)| i);
    let (number, unit) = body.split_at(number_len);
    let parsed = number
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && !number.ends_with('.') && !number.starts_with('.'));
    let Some(value) = parsed else {
        let message =
            format!("invalid threshold condition `{shown}`: missing number, expected {expected}");
        return Err((number_at, message));
    };
    if value < 0.0 && stat != Stat::Drift {
        return Err((
            number_at,
            format!("invalid threshold condition `{shown}`: negative bound, expected {expected}"),
        ));
    }
    let unit_at = number_at + number_len + (unit.len() - unit.trim_start().len());
    let unit = unit.trim_start();
    let scaled = match (stat.dimension(), unit) {
        (Dimension::Time, "ms") => value,
        (Dimension::Time, "s") => value * 1000.0,
        (Dimension::Ratio, "%") => value / 100.0,
        (Dimension::Plain, "") => value,
        _ => {
            let found = if unit.is_empty() {
                "no unit".to_string()
            } else {
                format!("unit `{}`", crate::limits::quoted(unit))
            };
            return Err((
                unit_at,
                format!(
                    "invalid threshold condition `{shown}` for `{}`: {found}, expected {expected}",
                    stat.name()
                ),
            ));
        }
    };
    Ok((op, scaled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(key: &str, condition: &str) -> ThresholdSpec {
        ThresholdSpec::parse(key, condition).unwrap_or_else(|e| panic!("{key} {condition}: {e}"))
    }

    fn error(key: &str, condition: &str) -> ThresholdError {
        match ThresholdSpec::parse(key, condition) {
            Ok(t) => panic!("{key} = {condition} parsed as {t:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn status_statistics_name_a_code() {
        let t = parse("create_order.status_429.rate", "> 0");
        assert_eq!(
            t.metric,
            Metric {
                scope: Scope::Action("create_order".into()),
                stat: Stat::StatusRate(429),
            }
        );
        assert_eq!(t.metric.to_string(), "create_order.status_429.rate");
        let t = parse("http.status_200.count", ">= 5");
        assert_eq!(t.metric.stat, Stat::StatusCount(200));
        assert_eq!(t.value, 5.0);
        for key in [
            "a.status_42.rate",
            "a.status_4290.rate",
            "a.status_+42.rate",
            "a.status_600.count",
            "a.status_099.count",
            "a.status_429.mean",
            "a.status_429",
        ] {
            let e = error(key, "> 0");
            assert!(
                e.in_key && e.message.starts_with("unknown statistic"),
                "{key}: {e:?}"
            );
            assert!(e.message.contains("`status_NNN.count|rate`"), "{e:?}");
        }
        // Rates and counts are plain numbers.
        let e = error("a.status_429.rate", "> 1%");
        assert!(e.message.contains("expected a plain number"), "{e:?}");
    }

    #[test]
    fn durations_are_kept_in_milliseconds() {
        let t = parse("create_order.p95", "< 300ms");
        assert_eq!(
            t.metric,
            Metric {
                scope: Scope::Action("create_order".into()),
                stat: Stat::P95
            }
        );
        assert_eq!((t.op, t.value), (CompareOp::Lt, 300.0));
        assert_eq!(parse("http.p99", "<=1.5s").value, 1500.0);
        assert_eq!(parse("http.p99.9", " <  2 s ").value, 2000.0);
        assert_eq!(parse("http.p99.9", "<2s").metric.stat, Stat::P999);
        assert_eq!(parse("a.max", ">= 0ms").op, CompareOp::Ge);
        assert_eq!(parse("a.min", "> 1ms").op, CompareOp::Gt);
        assert_eq!(parse("a.mean", "< 20.5ms").value, 20.5);
    }

    #[test]
    fn percentages_become_fractions_and_plain_numbers_stay() {
        assert_eq!(parse("http.error_rate", "< 1%").value, 0.01);
        assert_eq!(parse("http.error_rate", "<= 0.5 %").value, 0.005);
        assert_eq!(parse("http.rps", "> 100").value, 100.0);
        assert_eq!(parse("pay.count", ">= 10").value, 10.0);
        let drift = parse("drift", "< 25%");
        assert_eq!(drift.metric.scope, Scope::Http);
        assert_eq!(drift.metric.stat, Stat::Drift);
        assert_eq!(drift.value, 0.25);
        assert_eq!(parse("pay.drift", "> -10%").value, -0.1);
        assert_eq!(drift.to_string(), "drift < 25%");
    }

    #[test]
    fn comparisons() {
        let lt = parse("http.p50", "< 10ms");
        assert!(lt.holds(9.9) && !lt.holds(10.0));
        let le = parse("http.p50", "<= 10ms");
        assert!(le.holds(10.0) && !le.holds(10.1));
        let gt = parse("http.rps", "> 10");
        assert!(gt.holds(10.1) && !gt.holds(10.0));
        let ge = parse("http.rps", ">= 10");
        assert!(ge.holds(10.0) && !ge.holds(9.9));
        assert!(lt.op.is_upper_bound() && !ge.op.is_upper_bound());
    }

    #[test]
    fn invalid_keys_point_into_the_key() {
        let e = error("create_order.p98", "< 1ms");
        assert!(e.in_key);
        assert_eq!(e.offset, 13);
        assert!(
            e.message.starts_with(
                "unknown statistic `p98` in threshold metric `create_order.p98`, expected one of `p50`"
            ),
            "{}",
            e.message
        );
        let e = error("latency", "< 1ms");
        assert_eq!((e.in_key, e.offset), (true, 0));
        assert_eq!(e.message, "invalid threshold metric `latency`, expected `<action>.<stat>`, `http.<stat>` or `drift`");
        assert!(error(".p95", "< 1ms").message.starts_with("missing action"));
    }

    #[test]
    fn invalid_conditions_point_into_the_condition() {
        let e = error("http.p95", "300ms");
        assert_eq!((e.in_key, e.offset), (false, 0));
        assert!(e.message.contains("missing operator"), "{}", e.message);
        let e = error("http.p95", "< 300");
        assert_eq!(e.offset, 5);
        assert_eq!(
            e.message,
            "invalid threshold condition `< 300` for `p95`: no unit, expected a duration such as `< 300ms` or `<= 1.5s`"
        );
        let e = error("http.error_rate", "< 1ms");
        assert_eq!(e.offset, 3);
        assert!(
            e.message.contains("unit `ms`, expected a percentage"),
            "{}",
            e.message
        );
        let e = error("http.rps", "> 10%");
        assert!(
            e.message.contains("expected a plain number"),
            "{}",
            e.message
        );
        let e = error("http.p95", "< fast");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("missing number"), "{}", e.message);
        assert!(error("http.p95", "< -1ms")
            .message
            .contains("negative bound"));
        assert!(error("http.p95", "< 1.ms")
            .message
            .contains("missing number"));
        assert!(error("http.p95", "< 1.2.3ms")
            .message
            .contains("missing number"));
        assert!(error("http.p95", "< 1ms extra")
            .message
            .contains("unit `ms extra`"));
    }
}
