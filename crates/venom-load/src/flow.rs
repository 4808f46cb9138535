//! Flows and their execution: one iteration runs a flow's actions in order with its own context,
//! extracting and setting keys like the explorer does, and stops at the first failed action.

use crate::metrics::{ErrorKind, Recorder, Sample};
use crate::plan::PlanError;
use crate::transport::Transport;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use venom_engine::Context;
use venom_scenario::{ActionSpec, FlowSpec, Scenario, Vars};

/// A flow resolved against the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// The flow's name (`[load]` name, or the `--flow` list as given).
    pub name: String,
    /// Indices of its actions in the scenario's action list, in run order.
    pub actions: Vec<usize>,
    /// Relative share of iterations.
    pub weight: f64,
}

impl Flow {
    pub(crate) fn new(scenario: &Scenario, spec: &FlowSpec) -> Result<Flow, PlanError> {
        let actions = spec
            .actions
            .iter()
            .map(|name| {
                scenario
                    .actions
                    .iter()
                    .position(|a| &a.name == name)
                    .ok_or_else(|| {
                        PlanError(format!("flow `{}`: unknown action `{name}`", spec.name))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if actions.is_empty() {
            return Err(PlanError(format!("flow `{}` has no actions", spec.name)));
        }
        Ok(Flow {
            name: spec.name.clone(),
            actions,
            weight: spec.weight,
        })
    }
}

/// Picks flows in proportion to their weights with a low-discrepancy sequence: deterministic,
/// and within one iteration of the exact shares at any point of the run.
#[derive(Debug)]
struct FlowPicker {
    /// Cumulative weights, normalised so that the last is 1.
    cumulative: Vec<f64>,
    next: AtomicU64,
}

/// The golden ratio's fractional part: successive multiples spread evenly over [0, 1).
const GOLDEN: f64 = 0.618_033_988_749_894_9;

impl FlowPicker {
    fn new(flows: &[Flow]) -> FlowPicker {
        let total: f64 = flows.iter().map(|f| f.weight).sum();
        let mut acc = 0.0;
        let cumulative = flows
            .iter()
            .map(|f| {
                acc += f.weight / total;
                acc
            })
            .collect();
        FlowPicker {
            cumulative,
            next: AtomicU64::new(0),
        }
    }

    fn pick(&self) -> usize {
        if self.cumulative.len() <= 1 {
            return 0;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let x = (n as f64 * GOLDEN).fract();
        self.cumulative
            .iter()
            .position(|&c| x < c)
            .unwrap_or(self.cumulative.len() - 1)
    }
}

/// Runs flow iterations against the API and records every request.
#[derive(Debug)]
pub(crate) struct Executor {
    transport: Transport,
    actions: Vec<ActionSpec>,
    flows: Vec<Flow>,
    picker: FlowPicker,
    recorder: Arc<Recorder>,
    in_flight: AtomicU64,
}

impl Executor {
    pub(crate) fn new(
        transport: Transport,
        scenario: &Scenario,
        flows: &[Flow],
        recorder: Arc<Recorder>,
    ) -> Executor {
        Executor {
            transport,
            actions: scenario.actions.clone(),
            flows: flows.to_vec(),
            picker: FlowPicker::new(flows),
            recorder,
            in_flight: AtomicU64::new(0),
        }
    }

    /// Requests currently waiting for their response.
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The recorder every request lands in.
    pub(crate) fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Runs one iteration of a flow picked by weight, recording into `shard`. The first
    /// request's latency counts from `intended` when given (the open model's scheduled start),
    /// so time spent waiting to be sent is not hidden. Returns whether every action succeeded.
    pub(crate) async fn iteration(&self, shard: usize, intended: Option<Instant>) -> bool {
        let flow_index = self.picker.pick();
        let Some(flow) = self.flows.get(flow_index) else {
            return false;
        };
        let mut ctx = Context::new();
        let mut ok = true;
        for (step, &action) in flow.actions.iter().enumerate() {
            let Some(spec) = self.actions.get(action) else {
                ok = false;
                break;
            };
            let sent = Instant::now();
            let start = match intended {
                Some(t) if step == 0 => t.min(sent),
                _ => sent,
            };
            if !self
                .request(spec, action, shard, start, sent, &mut ctx)
                .await
            {
                ok = false;
                break;
            }
        }
        self.recorder.flow_done(shard, flow_index, ok);
        ok
    }

    /// Sends one action's request, records it and updates `ctx`; whether it succeeded.
    async fn request(
        &self,
        spec: &ActionSpec,
        action: usize,
        shard: usize,
        start: Instant,
        sent: Instant,
        ctx: &mut Context,
    ) -> bool {
        let wants_record = !spec.extract.is_empty() || !spec.set.is_empty();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = self
            .transport
            .send(spec, &Vars::new(ctx), wants_record)
            .await;
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let done = Instant::now();
        let reply = match result {
            Ok(reply) => reply,
            Err(failure) => {
                // A timeout is a (very) slow answer: its wait counts in the latencies.
                let timed = failure.kind == ErrorKind::Timeout;
                self.recorder.record(
                    shard,
                    action,
                    &Sample {
                        latency: timed.then(|| done - start),
                        service: timed.then(|| done - sent),
                        ttfb: None,
                        status: None,
                        error: Some(failure.kind),
                    },
                );
                self.recorder
                    .note(|| format!("{}: {}", spec.name, failure.message));
                return false;
            }
        };
        let error =
            failed_status(spec, reply.status).then_some(ErrorKind::Status(reply.status / 100));
        self.recorder.record(
            shard,
            action,
            &Sample {
                latency: Some(done - start),
                service: Some(done - sent),
                ttfb: Some(reply.ttfb),
                status: Some(reply.status),
                error,
            },
        );
        if error.is_some() {
            self.recorder.note(|| {
                let expected = match &spec.expect {
                    Some(list) => list
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(" or "),
                    None => "a status below 400".into(),
                };
                format!(
                    "{}: {} {} answered {}, expected {expected}",
                    spec.name,
                    spec.request.method,
                    spec.request.path.source(),
                    reply.status
                )
            });
            return false;
        }
        if let Some(record) = &reply.record {
            if let Err(e) = venom_http::apply_response(spec, ctx, record) {
                self.recorder.note(|| format!("{}: {e}", spec.name));
                return false;
            }
        }
        true
    }
}

/// Whether `status` fails the action: outside its `expect` list, or >= 400 without one.
fn failed_status(spec: &ActionSpec, status: u16) -> bool {
    match &spec.expect {
        Some(list) => !list.contains(&status),
        None => status >= 400,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(name: &str, weight: f64) -> Flow {
        Flow {
            name: name.into(),
            actions: vec![0],
            weight,
        }
    }

    #[test]
    fn picks_follow_the_weights_closely() {
        let picker = FlowPicker::new(&[flow("a", 1.0), flow("b", 3.0)]);
        let mut counts = [0u32; 2];
        for _ in 0..1000 {
            counts[picker.pick()] += 1;
        }
        // The golden-ratio sequence stays within a handful of picks of the exact 250 / 750.
        assert!((counts[0] as i32 - 250).abs() <= 5, "{counts:?}");
        let single = FlowPicker::new(&[flow("only", 2.0)]);
        assert!((0..10).all(|_| single.pick() == 0));
    }
}
