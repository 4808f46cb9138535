//! A response body is kept up to `[defaults] max_body_bytes` (256 KiB by default) and marked
//! truncated; the rest is not read, so an endless body neither stalls the step nor fills
//! memory.

use std::path::Path;
use std::time::{Duration, Instant};
use venom_engine::Context;
use venom_runner::{HttpWorld, Processes};
use venom_testkit::{RawServer, Reply};

/// A 200 answer announcing `length` bytes and sending `sent` of them (`x`s).
fn long_answer(length: usize, sent: usize) -> Reply {
    let mut bytes = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n").into_bytes();
    bytes.extend(std::iter::repeat_n(b'x', sent));
    Reply::Send(bytes)
}

fn body_of(url: &str, defaults: &str, path: &str) -> venom_engine::ResponseRecord {
    let text = format!(
        "base_url = \"{url}\"\n{defaults}\n[reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"get\"\nmethod = \"GET\"\npath = \"{path}\"\n"
    );
    let scenario = venom_scenario::parse(&text, Path::new("bodies.toml")).expect("scenario");
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let actions = venom_runner::actions(&scenario);
    let outcome = actions[0]
        .run(&mut world, &mut Context::new())
        .expect("step");
    outcome
        .exchange
        .and_then(|e| e.response)
        .expect("a response")
}

#[test]
fn a_long_body_is_kept_up_to_the_default_cap_and_marked_truncated() {
    let server = RawServer::start(|_, path| match path {
        "/big" => long_answer(5 << 20, 5 << 20),
        _ => long_answer(2, 2),
    });
    let response = body_of(&server.url, "", "/big");
    assert!(response.truncated);
    assert_eq!(response.body.as_str().map(str::len), Some(256 << 10));
    let short = body_of(&server.url, "", "/small");
    assert!(!short.truncated);
}

#[test]
fn max_body_bytes_sets_the_cap_and_an_endless_body_does_not_stall_the_step() {
    // Announces 2 GiB, sends 1 MiB and then nothing more, keeping the connection open.
    let server = RawServer::start(|_, path| match path {
        "/endless" => long_answer(2 << 30, 1 << 20),
        _ => long_answer(2, 2),
    });
    let started = Instant::now();
    let response = body_of(&server.url, "[defaults]\nmax_body_bytes = 2048", "/endless");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(response.truncated);
    assert_eq!(response.body.as_str().map(str::len), Some(2048));
}
