//! Streamed responses: Server-Sent Events (`text/event-stream`), NDJSON
//! (`application/x-ndjson`, `application/ndjson`, `application/jsonl`) and any other chunked
//! body. Their chunks (an event, a line, a body frame) are counted and the gaps between them
//! measured as the bytes arrive; nothing of the body is kept, so memory stays flat however long
//! the stream.

use hdrhistogram::Histogram;
use hyper::header::{CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::HeaderMap;
use std::time::{Duration, Instant};

/// What a streamed response showed.
#[derive(Debug, Clone)]
pub(crate) struct StreamMeasure {
    /// Chunks received.
    pub chunks: u64,
    /// Gaps between consecutive chunks, µs.
    pub gaps: Histogram<u64>,
    /// From the send to the end of the stream.
    pub duration: Duration,
}

/// How a body is cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Server-Sent Events: an event ends at a blank line.
    Events,
    /// One JSON document per line.
    Lines,
    /// Each body frame as it arrives (plain chunked transfer).
    Frames,
}

/// Counts a streamed body's chunks as its bytes arrive.
#[derive(Debug)]
pub(crate) struct StreamReader {
    framing: Framing,
    started: Instant,
    /// Whether the line being read has a byte other than `\r`.
    line_has_content: bool,
    /// Whether the event being read has a non-empty line.
    event_has_content: bool,
    chunks: u64,
    last_chunk: Option<Instant>,
    gaps: Histogram<u64>,
}

impl StreamReader {
    /// A reader for a response with `headers`, sent at `started`; `None` when the response is
    /// no stream (neither an event stream, nor NDJSON, nor chunked).
    pub(crate) fn of(headers: &HeaderMap, started: Instant) -> Option<StreamReader> {
        // Read on every response of a load run: compared in place, nothing allocated.
        let media_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map_or("", |v| v.split(';').next().unwrap_or("").trim());
        let is = |name: &str| media_type.eq_ignore_ascii_case(name);
        let chunked = headers
            .get(TRANSFER_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
            });
        let framing = if is("text/event-stream") {
            Framing::Events
        } else if is("application/x-ndjson") || is("application/ndjson") || is("application/jsonl")
        {
            Framing::Lines
        } else if chunked {
            Framing::Frames
        } else {
            return None;
        };
        Some(StreamReader {
            framing,
            started,
            line_has_content: false,
            event_has_content: false,
            chunks: 0,
            last_chunk: None,
            // 3 significant digits, auto-resizing: a few kB whatever the stream's length.
            gaps: Histogram::new(3).expect("3 significant digits are supported"),
        })
    }

    /// Reads one body frame that arrived `now`.
    pub(crate) fn frame(&mut self, bytes: &[u8], now: Instant) {
        match self.framing {
            Framing::Frames => {
                if !bytes.is_empty() {
                    self.chunk(now);
                }
            }
            Framing::Lines | Framing::Events => {
                for &b in bytes {
                    self.byte(b, now);
                }
            }
        }
    }

    fn byte(&mut self, b: u8, now: Instant) {
        match b {
            b'\n' => {
                let had_content = std::mem::take(&mut self.line_has_content);
                match self.framing {
                    Framing::Lines if had_content => self.chunk(now),
                    Framing::Events if had_content => self.event_has_content = true,
                    Framing::Events if std::mem::take(&mut self.event_has_content) => {
                        self.chunk(now)
                    }
                    _ => {}
                }
            }
            b'\r' => {}
            _ => self.line_has_content = true,
        }
    }

    fn chunk(&mut self, now: Instant) {
        if let Some(last) = self.last_chunk {
            let gap = u64::try_from(now.duration_since(last).as_micros()).unwrap_or(u64::MAX);
            if self.gaps.record(gap).is_err() {
                self.gaps.saturating_record(gap);
            }
        }
        self.last_chunk = Some(now);
        self.chunks += 1;
    }

    /// The stream ended `now`; a last chunk without its end mark still counts.
    pub(crate) fn finish(mut self, now: Instant) -> StreamMeasure {
        let unfinished = match self.framing {
            Framing::Lines => self.line_has_content,
            Framing::Events => self.line_has_content || self.event_has_content,
            Framing::Frames => false,
        };
        if unfinished {
            self.chunk(now);
        }
        StreamMeasure {
            chunks: self.chunks,
            gaps: self.gaps,
            duration: now.duration_since(self.started),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn reader(content_type: &str, chunked: bool) -> Option<StreamReader> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        if chunked {
            headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        }
        StreamReader::of(&headers, Instant::now())
    }

    #[test]
    fn events_lines_and_frames_are_counted_across_frame_boundaries() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut sse = reader("text/event-stream; charset=utf-8", false).unwrap();
        sse.frame(b"data: a\r\n\r\ndata: b\n", at(10));
        sse.frame(b"data: b2\n\n: keep-alive\n\ndata: c", at(30));
        let measure = sse.finish(at(45));
        // a, b (two lines), the comment (an event of its own), c (unfinished).
        assert_eq!(measure.chunks, 4);
        assert_eq!(measure.gaps.len(), 3);
        assert_eq!(measure.gaps.max() / 1000, 20);

        let mut ndjson = reader("application/x-ndjson", true).unwrap();
        ndjson.frame(b"{\"a\":1}\n\n{\"b\"", at(5));
        ndjson.frame(b":2}\n", at(25));
        let measure = ndjson.finish(at(30));
        assert_eq!(measure.chunks, 2);
        assert_eq!(measure.gaps.min() / 1000, 20);

        let mut frames = reader("application/octet-stream", true).unwrap();
        frames.frame(b"xyz", at(1));
        frames.frame(b"", at(2));
        frames.frame(b"x", at(3));
        assert_eq!(frames.finish(at(4)).chunks, 2);

        assert!(reader("application/json", false).is_none());
    }
}
