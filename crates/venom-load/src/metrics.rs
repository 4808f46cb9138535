//! Measurements: every request lands in an HDR histogram of its action in one of a few
//! mutex-guarded shards (so concurrent users rarely contend); a collector drains the shards every
//! tick into run totals and the current interval.

use crate::stream::StreamMeasure;
use hdrhistogram::Histogram;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Significant decimal digits kept by every histogram: values are exact within 0.1 %.
const SIGFIG: u8 = 3;

/// Number of distinct [`ErrorKind`]s.
pub(crate) const ERROR_KINDS: usize = 10;

/// Why a request counts as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// A status outside the action's `expect` list (or >= 400 without one), by class 1..=5.
    Status(u16),
    /// No complete response within the request timeout.
    Timeout,
    /// The connection could not be made or was reset before a response.
    Connect,
    /// Any other transport failure.
    Transport,
    /// The request could not be built (a template failed, a secret is missing).
    Build,
    /// venom itself could not open a connection (out of file descriptors): the request was
    /// not sent, and it is no error of the API's.
    Client,
}

impl ErrorKind {
    fn index(self) -> usize {
        match self {
            ErrorKind::Status(class) => usize::from(class.clamp(1, 5)) - 1,
            ErrorKind::Timeout => 5,
            ErrorKind::Connect => 6,
            ErrorKind::Transport => 7,
            ErrorKind::Build => 8,
            ErrorKind::Client => 9,
        }
    }

    /// Names of the kinds, by index: status classes, then `timeout`, `connect`, `transport`,
    /// `build`, `client`.
    pub(crate) const NAMES: [&'static str; ERROR_KINDS] = [
        "1xx",
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "timeout",
        "connect",
        "transport",
        "build",
        "client",
    ];
}

/// One request's measurements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample<'a> {
    /// From the intended send time (open model: the scheduled arrival) to the end of the
    /// response; `None` when no response came and the request did not time out.
    pub latency: Option<Duration>,
    /// From the actual send to the end of the response (same condition).
    pub service: Option<Duration>,
    /// From the actual send to the response headers.
    pub ttfb: Option<Duration>,
    /// The response status, if any.
    pub status: Option<u16>,
    /// Why the request failed, if it did.
    pub error: Option<ErrorKind>,
    /// Its chunks and their gaps, when the response was a stream.
    pub stream: Option<&'a StreamMeasure>,
}

/// A new, empty, auto-resizing histogram of microseconds.
fn histogram() -> Histogram<u64> {
    // `new` fails only for more than 5 significant digits.
    Histogram::new(SIGFIG).expect("3 significant digits are supported")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Records `d` in microseconds, growing the histogram as needed (values beyond the largest
/// trackable one, centuries, are clamped).
fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = micros(d);
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// Adds `from` into `into`. Auto-resizing histograms always accept the values; should that ever
/// fail, the values are recorded one bucket at a time, saturating at the largest trackable one.
fn merge(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

/// The measurements of one action (or of all requests) over some time.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    /// Latency in µs from the intended send time.
    pub latency: Histogram<u64>,
    /// Service time in µs from the actual send.
    pub service: Histogram<u64>,
    /// Time to first byte in µs.
    pub ttfb: Histogram<u64>,
    /// Requests sent.
    pub count: u64,
    /// Failed requests, by [`ErrorKind`] index.
    pub errors: [u64; ERROR_KINDS],
    /// Responses by status code.
    pub statuses: Vec<(u16, u64)>,
    /// Streamed responses.
    pub streams: u64,
    /// Chunks of the streamed responses.
    pub chunks: u64,
    /// Gaps between the chunks of a stream, µs.
    pub gaps: Histogram<u64>,
    /// From the send to the end of each stream, µs.
    pub stream_time: Histogram<u64>,
}

impl Tally {
    pub(crate) fn new() -> Tally {
        Tally {
            latency: histogram(),
            service: histogram(),
            ttfb: histogram(),
            count: 0,
            errors: [0; ERROR_KINDS],
            statuses: Vec::new(),
            streams: 0,
            chunks: 0,
            gaps: histogram(),
            stream_time: histogram(),
        }
    }

    pub(crate) fn record(&mut self, sample: &Sample) {
        if sample.error == Some(ErrorKind::Client) {
            // Not sent: kept apart, neither a request nor an error of the API.
            self.errors[ErrorKind::Client.index()] += 1;
            return;
        }
        self.count += 1;
        if let Some(latency) = sample.latency {
            record(&mut self.latency, latency);
        }
        if let Some(service) = sample.service {
            record(&mut self.service, service);
        }
        if let Some(ttfb) = sample.ttfb {
            record(&mut self.ttfb, ttfb);
        }
        if let Some(kind) = sample.error {
            self.errors[kind.index()] += 1;
        }
        if let Some(status) = sample.status {
            self.add_status(status, 1);
        }
        if let Some(stream) = sample.stream {
            self.streams += 1;
            self.chunks += stream.chunks;
            merge(&mut self.gaps, &stream.gaps);
            record(&mut self.stream_time, stream.duration);
        }
    }

    fn add_status(&mut self, status: u16, n: u64) {
        match self.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, count)) => *count += n,
            None => self.statuses.push((status, n)),
        }
    }

    pub(crate) fn add(&mut self, other: &Tally) {
        if other.is_empty() {
            return;
        }
        merge(&mut self.latency, &other.latency);
        merge(&mut self.service, &other.service);
        merge(&mut self.ttfb, &other.ttfb);
        self.count += other.count;
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
        for &(status, n) in &other.statuses {
            self.add_status(status, n);
        }
        if other.streams > 0 {
            self.streams += other.streams;
            self.chunks += other.chunks;
            merge(&mut self.gaps, &other.gaps);
            merge(&mut self.stream_time, &other.stream_time);
        }
    }

    /// Empties the tally, keeping the histograms' memory.
    pub(crate) fn reset(&mut self) {
        if self.is_empty() {
            return;
        }
        self.latency.reset();
        self.service.reset();
        self.ttfb.reset();
        self.count = 0;
        self.errors = [0; ERROR_KINDS];
        self.statuses.clear();
        if self.streams > 0 {
            self.streams = 0;
            self.chunks = 0;
            self.gaps.reset();
            self.stream_time.reset();
        }
    }

    /// Whether nothing was recorded.
    fn is_empty(&self) -> bool {
        self.count == 0 && self.errors.iter().all(|&n| n == 0)
    }

    /// Failed requests (the ones venom could not send are not the API's failures).
    pub(crate) fn error_count(&self) -> u64 {
        let client = ErrorKind::Client.index();
        self.errors
            .iter()
            .enumerate()
            .filter(|&(kind, _)| kind != client)
            .map(|(_, n)| n)
            .sum()
    }
}

/// Iterations of one flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FlowCount {
    /// Iterations finished.
    pub iterations: u64,
    /// Iterations stopped early by a failed action.
    pub failed: u64,
}

/// Everything recorded over some time: per action, overall, per flow.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// By action index (the scenario's order).
    pub actions: Vec<Tally>,
    /// All requests (kept up to date only by [`Window::absorb`]).
    pub overall: Tally,
    /// By flow index (the plan's order).
    pub flows: Vec<FlowCount>,
}

impl Window {
    pub(crate) fn new(actions: usize, flows: usize) -> Window {
        Window {
            actions: (0..actions).map(|_| Tally::new()).collect(),
            overall: Tally::new(),
            flows: vec![FlowCount::default(); flows],
        }
    }

    /// Adds a shard's window: its actions, the overall tally (from its actions) and flows.
    pub(crate) fn absorb(&mut self, shard: &Window) {
        for (mine, theirs) in self.actions.iter_mut().zip(&shard.actions) {
            mine.add(theirs);
            self.overall.add(theirs);
        }
        self.add_flows(shard);
    }

    /// Adds another aggregated window (actions, overall and flows).
    pub(crate) fn add(&mut self, other: &Window) {
        for (mine, theirs) in self.actions.iter_mut().zip(&other.actions) {
            mine.add(theirs);
        }
        self.overall.add(&other.overall);
        self.add_flows(other);
    }

    fn add_flows(&mut self, other: &Window) {
        for (mine, theirs) in self.flows.iter_mut().zip(&other.flows) {
            mine.iterations += theirs.iterations;
            mine.failed += theirs.failed;
        }
    }

    pub(crate) fn reset(&mut self) {
        self.actions.iter_mut().for_each(Tally::reset);
        self.overall.reset();
        self.flows
            .iter_mut()
            .for_each(|f| *f = FlowCount::default());
    }
}

/// Most distinct failure messages kept for the report.
const MAX_NOTES: usize = 10;

/// Where requests are recorded: a few shards, each a [`Window`] behind a mutex.
#[derive(Debug)]
pub(crate) struct Recorder {
    shards: Vec<Mutex<Window>>,
    notes: Mutex<Vec<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while recording cannot leave a window inconsistent beyond one sample.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    pub(crate) fn new(shards: usize, actions: usize, flows: usize) -> Recorder {
        Recorder {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Window::new(actions, flows)))
                .collect(),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// Number of shards.
    pub(crate) fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Records one request of `action` in `shard` (taken modulo the shard count) and, when it
    /// ended an iteration, that iteration: `(flow, whether it succeeded)`.
    pub(crate) fn record(
        &self,
        shard: usize,
        action: usize,
        sample: &Sample,
        iteration: Option<(usize, bool)>,
    ) {
        let mut window = lock(&self.shards[shard % self.shards.len()]);
        if let Some(tally) = window.actions.get_mut(action) {
            tally.record(sample);
        }
        if let Some((flow, ok)) = iteration {
            if let Some(count) = window.flows.get_mut(flow) {
                count.iterations += 1;
                count.failed += u64::from(!ok);
            }
        }
    }

    /// Records an iteration of `flow` that ended without a request.
    pub(crate) fn flow_done(&self, shard: usize, flow: usize, ok: bool) {
        let mut window = lock(&self.shards[shard % self.shards.len()]);
        if let Some(count) = window.flows.get_mut(flow) {
            count.iterations += 1;
            count.failed += u64::from(!ok);
        }
    }

    /// Keeps a failure message for the report (the first few distinct ones); `message` is only
    /// built when there is room.
    pub(crate) fn note(&self, message: impl FnOnce() -> String) {
        let mut notes = lock(&self.notes);
        if notes.len() < MAX_NOTES {
            let message = message();
            if !notes.contains(&message) {
                notes.push(message);
            }
        }
    }

    /// The failure messages kept.
    pub(crate) fn notes(&self) -> Vec<String> {
        lock(&self.notes).clone()
    }

    /// Moves every shard's measurements into `into` (via `spare`, which is left empty).
    pub(crate) fn drain(&self, spare: &mut Window, into: &mut Window) {
        for shard in &self.shards {
            std::mem::swap(&mut *lock(shard), spare);
            into.absorb(spare);
            spare.reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, status: u16, error: Option<ErrorKind>) -> Sample<'static> {
        let d = Duration::from_millis(ms);
        Sample {
            latency: Some(d),
            service: Some(d),
            ttfb: Some(d / 2),
            status: Some(status),
            error,
            stream: None,
        }
    }

    #[test]
    fn shards_drain_into_totals_with_exact_counts() {
        let recorder = Recorder::new(3, 2, 1);
        for i in 0..300u64 {
            let error = (i % 100 == 99).then_some(ErrorKind::Status(5));
            let status = if error.is_some() { 500 } else { 200 };
            let ends = (i % 2 == 1).then_some((0, error.is_none()));
            recorder.record(
                i as usize,
                (i % 2) as usize,
                &sample(i + 1, status, error),
                ends,
            );
        }
        recorder.record(
            0,
            0,
            &Sample {
                latency: None,
                service: None,
                ttfb: None,
                status: None,
                error: Some(ErrorKind::Connect),
                stream: None,
            },
            Some((0, false)),
        );
        recorder.flow_done(1, 0, true);
        recorder.flow_done(2, 0, false);
        let mut spare = Window::new(2, 1);
        let mut totals = Window::new(2, 1);
        recorder.drain(&mut spare, &mut totals);
        assert_eq!(totals.overall.count, 301);
        assert_eq!(totals.overall.latency.len(), 300);
        assert_eq!(totals.overall.error_count(), 4);
        assert_eq!(totals.overall.errors[ErrorKind::Status(5).index()], 3);
        assert_eq!(totals.overall.errors[ErrorKind::Connect.index()], 1);
        assert_eq!(totals.actions[0].count + totals.actions[1].count, 301);
        assert_eq!(
            totals.flows[0],
            // 150 iterations ended by odd requests (3 of them failed), the connect failure,
            // and two without a request.
            FlowCount {
                iterations: 153,
                failed: 5
            }
        );
        let mut statuses = totals.overall.statuses.clone();
        statuses.sort();
        assert_eq!(statuses, [(200, 297), (500, 3)]);
        // 1..=300 ms: the median is 150 ms within the histogram's 0.1 %.
        let p50 = totals.overall.latency.value_at_quantile(0.5) as f64 / 1000.0;
        assert!((p50 - 150.0).abs() <= 0.15 + 1e-9, "{p50}");
        // Draining again finds nothing new.
        let mut again = Window::new(2, 1);
        recorder.drain(&mut spare, &mut again);
        assert_eq!(again.overall.count, 0);
    }

    #[test]
    fn reset_clears_min_and_max() {
        let mut t = Tally::new();
        t.record(&sample(500, 200, None));
        t.reset();
        t.record(&sample(2, 200, None));
        assert_eq!(t.latency.max(), t.latency.highest_equivalent(2000));
        assert_eq!(t.count, 1);
    }

    #[test]
    fn requests_venom_could_not_send_are_no_errors_of_the_api() {
        let mut tally = Tally::new();
        tally.record(&sample(1, 200, None));
        tally.record(&Sample {
            latency: None,
            service: None,
            ttfb: None,
            status: None,
            error: Some(ErrorKind::Client),
            stream: None,
        });
        assert_eq!((tally.count, tally.error_count()), (1, 0));
        assert_eq!(tally.errors[ErrorKind::Client.index()], 1);
        let mut totals = Tally::new();
        totals.add(&tally);
        assert_eq!(totals.errors[ErrorKind::Client.index()], 1);
    }
}
