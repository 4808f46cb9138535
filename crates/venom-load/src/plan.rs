//! What a load run does: the mode's preset, overridden by explicit knobs, resolved against the
//! scenario's flows into a concrete, bounded [`LoadPlan`].

use crate::flow::Flow;
use crate::segment::Segment;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use venom_scenario::{FlowSpec, Scenario};

/// Largest number of virtual users or requests in flight accepted.
const MAX_CONCURRENCY: usize = 100_000;
/// Default cap on requests in flight in the open model.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1000;

/// A preset: how many users, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// 1 virtual user, 5 iterations (at most 60 s): checks that every flow works.
    Smoke,
    /// 50 virtual users for 20 s.
    Burst,
    /// 10 virtual users for 10 minutes, statistics every 10 s (drift becomes visible).
    Soak,
}

impl Mode {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Smoke => "smoke",
            Mode::Burst => "burst",
            Mode::Soak => "soak",
        }
    }

    fn preset(self) -> Preset {
        match self {
            Mode::Smoke => Preset {
                vus: 1,
                duration: Duration::from_secs(60),
                iterations: Some(5),
                interval: Duration::from_secs(1),
            },
            Mode::Burst => Preset {
                vus: 50,
                duration: Duration::from_secs(20),
                iterations: None,
                interval: Duration::from_secs(1),
            },
            Mode::Soak => Preset {
                vus: 10,
                duration: Duration::from_secs(600),
                iterations: None,
                interval: Duration::from_secs(10),
            },
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "smoke" => Ok(Mode::Smoke),
            "burst" => Ok(Mode::Burst),
            "soak" => Ok(Mode::Soak),
            _ => Err(format!("unknown mode `{s}`, expected smoke, burst or soak")),
        }
    }
}

struct Preset {
    vus: usize,
    duration: Duration,
    iterations: Option<u64>,
    interval: Duration,
}

/// How load is generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Model {
    /// A fixed number of virtual users, each running flow iterations back to back.
    Closed {
        /// Virtual users.
        vus: usize,
    },
    /// Flow iterations started at a given rate, whatever the response times (latency counted
    /// from each iteration's intended start).
    Open {
        /// Rate ramps, run one after the other.
        stages: Vec<Stage>,
        /// Cap on iterations in flight; arrivals beyond it wait (and count as late).
        max_in_flight: usize,
    },
}

/// One stage of the open model: the rate ramps linearly from the previous stage's target (the
/// first from the start rate) to `target` over `duration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// Rate at the start of the stage, iterations per second.
    pub from: f64,
    /// Rate at the end of the stage, iterations per second.
    pub target: f64,
    /// Length of the stage.
    #[serde(with = "seconds")]
    pub duration: Duration,
}

/// The explicit knobs of `venom load`; each overrides the mode's preset.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The preset (default smoke).
    pub mode: Option<Mode>,
    /// Closed model: this many virtual users.
    pub vus: Option<usize>,
    /// Open model: constant arrival rate (iterations per second), or the start rate of stages.
    pub rate: Option<f64>,
    /// Open model: rate ramps (`10s:50,30s:200`).
    pub stages: Option<Vec<(Duration, f64)>>,
    /// Run length (replaces the preset's length: its iteration count is dropped too).
    pub duration: Option<Duration>,
    /// Total flow iterations (the preset's duration stays as a time cap unless given).
    pub iterations: Option<u64>,
    /// Open model: cap on iterations in flight.
    pub max_in_flight: Option<usize>,
    /// Length of the intervals of per-interval statistics.
    pub interval: Option<Duration>,
    /// A flow of the scenario's `[load]`, or a comma-separated list of action names.
    pub flow: Option<String>,
    /// Run only this part of the plan (`--segment I/N`).
    pub segment: Option<Segment>,
}

/// A concrete, bounded load run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// The preset it started from.
    pub mode: Mode,
    /// Closed or open model.
    pub model: Model,
    /// Time after which no new iteration starts.
    pub duration: Duration,
    /// Total iterations after which no new iteration starts.
    pub iterations: Option<u64>,
    /// Length of the per-interval statistics windows.
    pub interval: Duration,
    /// The flows iterations choose from (by weight).
    pub flows: Vec<Flow>,
    /// The part of a plan split over machines that this run is, if it is one.
    pub segment: Option<Segment>,
}

/// The command line or scenario asks for something impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

impl LoadPlan {
    /// Resolves `options` over the preset of their mode, with flows from `scenario`.
    pub fn resolve(scenario: &Scenario, options: &PlanOptions) -> Result<LoadPlan, PlanError> {
        let mode = options.mode.unwrap_or(Mode::Smoke);
        let preset = mode.preset();
        let flows = flows(scenario, options.flow.as_deref())?;

        let (mut duration, iterations) = match (options.duration, options.iterations) {
            (None, None) => (preset.duration, preset.iterations),
            (Some(d), i) => (positive(d, "--duration")?, i),
            (None, Some(i)) => (preset.duration, Some(i)),
        };
        if iterations == Some(0) {
            return Err(PlanError("--iterations 0: expected at least 1".into()));
        }
        let open = options.rate.is_some() || options.stages.is_some();
        let model = if open {
            if options.vus.is_some() {
                return Err(PlanError(
                    "--vus is for the closed model; --rate and --stages choose the open model"
                        .into(),
                ));
            }
            let stages = stages(options.rate, options.stages.as_deref())?;
            let total: Duration = stages.iter().map(|s| s.duration).sum();
            duration = match options.duration {
                Some(d) if options.stages.is_some() => d.min(total),
                Some(d) => d,
                None if options.stages.is_some() => total,
                None => duration,
            };
            let max_in_flight = options.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT);
            concurrency(max_in_flight, "--max-in-flight")?;
            Model::Open {
                stages,
                max_in_flight,
            }
        } else {
            if options.max_in_flight.is_some() {
                return Err(PlanError(
                    "--max-in-flight is for the open model (--rate or --stages); the closed model has at most --vus iterations in flight".into(),
                ));
            }
            let vus = options.vus.unwrap_or(preset.vus);
            concurrency(vus, "--vus")?;
            Model::Closed { vus }
        };
        let interval = positive(options.interval.unwrap_or(preset.interval), "--interval")?;
        if interval < Duration::from_millis(100) {
            return Err(PlanError(format!(
                "--interval {}: expected at least 100ms",
                format_duration(interval)
            )));
        }
        let plan = LoadPlan {
            mode,
            model,
            duration,
            iterations,
            interval,
            flows,
            segment: None,
        };
        match options.segment {
            Some(segment) => segment.apply(plan),
            None => Ok(plan),
        }
    }

    /// A plan venom runs by itself (a capacity search's stage, a quota check): the open model
    /// at `rate` iterations per second for `length`, statistics every second, the flow
    /// `flow` (a `[load]` flow or a comma-separated list of actions; the scenario's flows when
    /// `None`).
    pub fn open_stage(
        scenario: &Scenario,
        rate: f64,
        length: Duration,
        flow: Option<&str>,
    ) -> Result<LoadPlan, PlanError> {
        LoadPlan::resolve(
            scenario,
            &PlanOptions {
                mode: Some(Mode::Burst),
                rate: Some(rate),
                duration: Some(length),
                interval: Some(Duration::from_secs(1)),
                flow: flow.map(str::to_string),
                ..PlanOptions::default()
            },
        )
    }

    /// One line for reports: `burst, closed model, 50 VUs, 20s`.
    pub fn describe(&self) -> String {
        let model = match &self.model {
            Model::Closed { vus: 1 } => "closed model, 1 VU".to_string(),
            Model::Closed { vus } => format!("closed model, {vus} VUs"),
            Model::Open {
                stages,
                max_in_flight,
            } => {
                let rates = match stages.as_slice() {
                    [only] if only.from == only.target => format!("{}/s", only.target),
                    _ => stages
                        .iter()
                        .map(|s| format!("{}:{}", format_duration(s.duration), s.target))
                        .collect::<Vec<_>>()
                        .join(","),
                };
                format!("open model, {rates}, at most {max_in_flight} in flight")
            }
        };
        let iterations = match self.iterations {
            Some(n) => format!(", {n} iterations"),
            None => String::new(),
        };
        let segment = match self.segment {
            Some(segment) => format!(", segment {segment}"),
            None => String::new(),
        };
        format!(
            "{}, {model}, {}{iterations}{segment}",
            self.mode.name(),
            format_duration(self.duration)
        )
    }
}

fn positive(d: Duration, flag: &str) -> Result<Duration, PlanError> {
    if d.is_zero() {
        return Err(PlanError(format!("{flag} 0: expected a positive duration")));
    }
    Ok(d)
}

fn concurrency(n: usize, flag: &str) -> Result<(), PlanError> {
    if n == 0 || n > MAX_CONCURRENCY {
        return Err(PlanError(format!(
            "{flag} {n}: expected 1..={MAX_CONCURRENCY}"
        )));
    }
    Ok(())
}

fn rate(r: f64, what: &str) -> Result<f64, PlanError> {
    if !(r.is_finite() && (0.0..=1e7).contains(&r)) {
        return Err(PlanError(format!(
            "{what} {r}: expected a rate in 0..=10000000 iterations per second"
        )));
    }
    Ok(r)
}

/// The open model's stages: `--stages` ramping from `--rate` (default 0), or one constant stage
/// at `--rate` lasting the whole run (its length is set by the caller).
fn stages(start: Option<f64>, ramps: Option<&[(Duration, f64)]>) -> Result<Vec<Stage>, PlanError> {
    let Some(ramps) = ramps else {
        let r = rate(start.unwrap_or(0.0), "--rate")?;
        if r == 0.0 {
            return Err(PlanError("--rate 0: expected a positive rate".into()));
        }
        return Ok(vec![Stage {
            from: r,
            target: r,
            duration: Duration::MAX,
        }]);
    };
    if ramps.is_empty() {
        return Err(PlanError(
            "--stages: expected at least one DURATION:RATE".into(),
        ));
    }
    let mut from = rate(start.unwrap_or(0.0), "--rate")?;
    let mut out = Vec::new();
    for &(duration, target) in ramps {
        let target = rate(target, "--stages rate")?;
        positive(duration, "--stages duration")?;
        out.push(Stage {
            from,
            target,
            duration,
        });
        from = target;
    }
    if out.iter().all(|s| s.from == 0.0 && s.target == 0.0) {
        return Err(PlanError(
            "--stages: every rate is 0, nothing would run".into(),
        ));
    }
    Ok(out)
}

/// The flows to run: `--flow` (a `[load]` flow or a comma-separated list of actions), else the
/// scenario's `[load]` flows.
fn flows(scenario: &Scenario, chosen: Option<&str>) -> Result<Vec<Flow>, PlanError> {
    let declared = scenario
        .load
        .as_ref()
        .map(|l| l.flows.as_slice())
        .unwrap_or_default();
    let specs: Vec<FlowSpec> = match chosen {
        Some(name) => match declared.iter().find(|f| f.name == name) {
            Some(flow) => vec![flow.clone()],
            None => {
                let actions: Vec<String> = name.split(',').map(|a| a.trim().to_string()).collect();
                if let Some(unknown) = actions.iter().find(|a| scenario.action(a).is_none()) {
                    return Err(PlanError(format!(
                        "--flow {name}: unknown flow or action `{unknown}`, expected a [load] flow ({}) or comma-separated actions ({})",
                        list(declared.iter().map(|f| f.name.as_str())),
                        list(scenario.actions.iter().map(|a| a.name.as_str())),
                    )));
                }
                vec![FlowSpec {
                    name: name.to_string(),
                    actions,
                    weight: 1.0,
                }]
            }
        },
        None if declared.is_empty() => {
            return Err(PlanError(format!(
                "{}: no flow to run, expected [load] flows in the scenario or --flow with comma-separated actions ({})",
                scenario.file.display(),
                list(scenario.actions.iter().map(|a| a.name.as_str()))
            )))
        }
        None => declared.to_vec(),
    };
    let unsupported = specs
        .iter()
        .flat_map(|f| f.actions.iter())
        .filter_map(|a| scenario.action(a))
        .find(|a| a.single_request().is_none());
    if let Some(action) = unsupported {
        return Err(PlanError(format!(
            "action `{}` sends several requests or sends one `as` a role; load runs send one request per action without roles, expected flows of such actions",
            action.name
        )));
    }
    specs.iter().map(|f| Flow::new(scenario, f)).collect()
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// A command-line value of load mode that cannot be read: the text and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} `{text}`{detail}, expected {expected}")]
pub struct InvalidValue {
    /// What the value is (`duration`, `stage`, `percentage`).
    pub what: &'static str,
    /// The text as given.
    pub text: String,
    /// What is wrong in it, if more than its shape (starts with `: `).
    pub detail: String,
    /// What was expected.
    pub expected: &'static str,
}

impl InvalidValue {
    fn new(what: &'static str, text: &str, detail: String, expected: &'static str) -> Self {
        InvalidValue {
            what,
            text: text.to_string(),
            detail,
            expected,
        }
    }
}

/// What a duration looks like.
const DURATION: &str = "e.g. 500ms, 30s, 10m or 1h";

/// Parses a duration: a number with unit `ms`, `s`, `m` or `h` (`500ms`, `30s`, `1.5m`, `2h`);
/// a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, InvalidValue> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| InvalidValue::new("duration", text, String::new(), DURATION))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(InvalidValue::new(
                "duration",
                text,
                format!(": unknown unit `{other}`"),
                "ms, s, m or h",
            ))
        }
    };
    if !seconds.is_finite() || seconds > 1e9 {
        return Err(InvalidValue::new(
            "duration",
            text,
            ": too long".to_string(),
            "at most 1e9 seconds",
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses stages `DURATION:RATE,...` (`10s:50,30s:200`).
pub fn parse_stages(text: &str) -> Result<Vec<(Duration, f64)>, InvalidValue> {
    const STAGE: &str = "DURATION:RATE such as 30s:200";
    text.split(',')
        .map(|stage| {
            let (d, r) = stage
                .split_once(':')
                .ok_or_else(|| InvalidValue::new("stage", stage, String::new(), STAGE))?;
            let rate: f64 = r.trim().parse().map_err(|_| {
                let detail = format!(": `{r}` is not a rate (iterations per second)");
                InvalidValue::new("stage", stage, detail, STAGE)
            })?;
            Ok((parse_duration(d)?, rate))
        })
        .collect()
}

/// Parses a percentage (`10%`, or a bare `10`) into a fraction (0.1).
pub fn parse_percent(text: &str) -> Result<f64, InvalidValue> {
    let t = text.trim();
    let number = t.strip_suffix('%').unwrap_or(t).trim();
    match number.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v / 100.0),
        _ => Err(InvalidValue::new(
            "percentage",
            text,
            String::new(),
            "a non-negative number such as 10%",
        )),
    }
}

/// A duration as the command line writes it (`500ms`, `20s`, `1m30s`, `10m`).
pub fn format_duration(d: Duration) -> String {
    if d == Duration::MAX {
        return "unbounded".into();
    }
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{:.1}s", d.as_secs_f64())
        };
    }
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Serde helpers for durations as (fractional) seconds.
pub(crate) mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if *d == Duration::MAX {
            return s.serialize_none();
        }
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = Option::<f64>::deserialize(d)?;
        Ok(match secs {
            Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s),
            _ => Duration::MAX,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_stages_and_percentages() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("10x")
            .unwrap_err()
            .to_string()
            .contains("unknown unit `x`"));
        assert!(parse_duration("s").is_err());
        assert_eq!(
            parse_stages("10s:50, 30s:200"),
            Ok(vec![
                (Duration::from_secs(10), 50.0),
                (Duration::from_secs(30), 200.0)
            ])
        );
        assert!(parse_stages("10s")
            .unwrap_err()
            .to_string()
            .contains("DURATION:RATE"));
        assert!(parse_stages("10s:fast").is_err());
        assert_eq!(parse_percent("10%"), Ok(0.1));
        assert_eq!(parse_percent("2.5"), Ok(0.025));
        assert!(parse_percent("-1%").is_err());
        assert_eq!(format_duration(Duration::from_secs(20)), "20s");
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }
}
