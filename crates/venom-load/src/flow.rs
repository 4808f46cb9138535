//! Flows and their execution: one iteration runs a flow's actions in order with its own context,
//! extracting and setting keys like the explorer does, and stops at the first failed action.

use crate::metrics::{ErrorKind, Recorder, Sample};
use crate::plan::PlanError;
use crate::refusals::Refusals;
use crate::transport::{Connection, Transport};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use venom_engine::Context;
use venom_scenario::{ActionSpec, FlowSpec, Scenario, StepSpec, Vars};

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
    /// The context every iteration starts from (the scenario's `[context]`).
    initial: Context,
    flows: Vec<Flow>,
    picker: FlowPicker,
    recorder: Arc<Recorder>,
    /// Requests waiting for their response, per shard (each on its own cache line).
    in_flight: Vec<Padded>,
    /// Refused connections in a row: the backoff, and whether the API is gone.
    refusals: Refusals,
}

/// A counter alone on its cache line, so that threads updating neighbours do not contend.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

impl Executor {
    pub(crate) fn new(
        transport: Transport,
        (scenario, initial): (&Scenario, Context),
        flows: &[Flow],
        recorder: Arc<Recorder>,
    ) -> Executor {
        Executor {
            transport,
            actions: scenario.actions.clone(),
            initial,
            flows: flows.to_vec(),
            picker: FlowPicker::new(flows),
            in_flight: (0..recorder.shards()).map(|_| Padded::default()).collect(),
            recorder,
            refusals: Refusals::new(),
        }
    }

    /// The refused connections of the run.
    pub(crate) fn refusals(&self) -> &Refusals {
        &self.refusals
    }

    /// Requests currently waiting for their response.
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .sum()
    }

    /// The transport requests go through.
    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The recorder every request lands in.
    pub(crate) fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Runs one iteration of a flow picked by weight, recording into `shard`. The first
    /// request's latency counts from `intended` when given (the open model's scheduled start),
    /// so time spent waiting to be sent is not hidden. Returns whether every action succeeded.
    pub(crate) async fn iteration(
        &self,
        shard: usize,
        intended: Option<Instant>,
        connection: &mut Connection,
    ) -> bool {
        let flow = self.picker.pick();
        let Some(actions) = self.flows.get(flow).map(|f| f.actions.as_slice()) else {
            return false;
        };
        let mut ctx = self.initial.clone();
        for (step, &action) in actions.iter().enumerate() {
            let Some(spec) = self.actions.get(action) else {
                self.recorder.flow_done(shard, flow, false);
                return false;
            };
            let sent = Instant::now();
            let start = match intended {
                Some(t) if step == 0 => t.min(sent),
                _ => sent,
            };
            let request = Request {
                spec,
                action,
                shard,
                start,
                sent,
                flow: (flow, step + 1 == actions.len()),
            };
            if !self.request(&request, &mut ctx, connection).await {
                return false;
            }
        }
        true
    }

    /// Sends one action's request, updates `ctx` and records both the request and, when it
    /// ends the iteration (it failed, or it is the flow's last), the iteration; whether it
    /// succeeded.
    async fn request(
        &self,
        r: &Request<'_>,
        ctx: &mut Context,
        connection: &mut Connection,
    ) -> bool {
        let spec = r.spec;
        let step = request_of(spec);
        let wants_record = !step.extract.is_empty() || !spec.set.is_empty();
        let in_flight = &self.in_flight[r.shard % self.in_flight.len()].0;
        in_flight.fetch_add(1, Ordering::Relaxed);
        let result = self
            .transport
            .send((spec, r.action), &Vars::new(ctx), wants_record, connection)
            .await;
        in_flight.fetch_sub(1, Ordering::Relaxed);
        let done = Instant::now();
        let (flow, last) = r.flow;
        let reply = match result {
            Ok(reply) => {
                self.refusals.answered();
                reply
            }
            Err(failure) => {
                // Refused: wait before going on, so that a dead API is not hammered.
                let pause = match failure.kind {
                    ErrorKind::Connect => Some(self.refusals.refused()),
                    // Not sent at all: says nothing of the API.
                    ErrorKind::Build | ErrorKind::Client => None,
                    _ => {
                        self.refusals.answered();
                        None
                    }
                };
                // A timeout is a (very) slow answer: its wait counts in the latencies.
                let timed = failure.kind == ErrorKind::Timeout;
                let sample = Sample {
                    latency: timed.then(|| done - r.start),
                    service: timed.then(|| done - r.sent),
                    ttfb: None,
                    status: None,
                    error: Some(failure.kind),
                    stream: None,
                };
                self.recorder
                    .record(r.shard, r.action, &sample, Some((flow, false)));
                self.recorder.note(|| {
                    let request = &step.request;
                    let (method, path) = (&request.method, request.path.source());
                    format!("{}: {method} {path}: {}", spec.name, failure.message)
                });
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                }
                return false;
            }
        };
        let error =
            failed_status(step, reply.status).then_some(ErrorKind::Status(reply.status / 100));
        let applied = match (&reply.record, error) {
            (Some(record), None) => venom_http::apply_response(spec, ctx, record).err(),
            _ => None,
        };
        let ok = error.is_none() && applied.is_none();
        let sample = Sample {
            latency: Some(done - r.start),
            service: Some(done - r.sent),
            ttfb: Some(reply.ttfb),
            status: Some(reply.status),
            error,
            stream: reply.stream.as_ref(),
        };
        let ends = (!ok || last).then_some((flow, ok));
        self.recorder.record(r.shard, r.action, &sample, ends);
        if error.is_some() {
            self.recorder.note(|| {
                let expected = match &step.expect {
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
                    step.request.method,
                    step.request.path.source(),
                    reply.status
                )
            });
        }
        if let Some(e) = applied {
            self.recorder.note(|| format!("{}: {e}", spec.name));
        }
        ok
    }
}

/// One request of an iteration: which action, where it is recorded, its clocks.
struct Request<'a> {
    spec: &'a ActionSpec,
    /// Index of the action in the scenario.
    action: usize,
    /// Shard of the recorder.
    shard: usize,
    /// When its latency starts (the intended send time in the open model).
    start: Instant,
    /// When it was actually sent.
    sent: Instant,
    /// The flow's index, and whether this is the flow's last action.
    flow: (usize, bool),
}

/// The one request of an action a load run sends (the plan refuses the others).
pub(crate) fn request_of(spec: &ActionSpec) -> &StepSpec {
    &spec.steps[0]
}

/// Whether `status` fails the request: outside its `expect` list, or >= 400 without one.
fn failed_status(step: &StepSpec, status: u16) -> bool {
    match &step.expect {
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
