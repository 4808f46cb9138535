//! Ordinary server behaviour never ends a run: a keep-alive connection the server closed is
//! retried once, a broken exchange is a finding of its step, and only an API that stopped
//! answering ends the run.

use std::path::Path;
use venom_engine::{Context, StepView, Verdict, World};
use venom_runner::{HttpWorld, Processes};
use venom_testkit::{ok_reply, RawServer, Reply};

/// A world for the API at `url` with one GET action per path in `paths` (named after the path).
fn world(url: &str, reset: &str, paths: &[&str]) -> (venom_scenario::Scenario, HttpWorld) {
    let mut text = format!("base_url = \"{url}\"\n[reset]\ncommand = \"{reset}\"\n");
    for path in paths {
        let name = path.trim_start_matches('/');
        text.push_str(&format!(
            "[[actions]]\nname = \"{name}\"\nmethod = \"GET\"\npath = \"{path}\"\n"
        ));
    }
    let scenario = venom_scenario::parse(&text, Path::new("transport.toml")).expect("scenario");
    let world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    (scenario, world)
}

/// The verdict of the built-in `no_server_errors` on the step that ran `action`.
fn no_server_errors(
    scenario: &venom_scenario::Scenario,
    world: &mut HttpWorld,
    action: &str,
    exchange: &venom_engine::Exchange,
) -> Verdict {
    let invariants = venom_runner::invariants(scenario);
    let builtin = invariants
        .iter()
        .find(|i| i.name == "no_server_errors")
        .expect("no_server_errors is on by default");
    let ctx = Context::new();
    let view = StepView {
        ctx: &ctx,
        action: Some(action),
        exchange: Some(exchange),
        earlier: &[],
    };
    builtin.check(world, &view).expect("check")
}

#[test]
fn a_request_on_a_kept_alive_connection_the_server_closed_unanswered_is_sent_again() {
    // Every connection answers its first request and closes on the second without a byte, as
    // a server does when its keep-alive timeout fires while the request is on the way.
    let server = RawServer::start(|n, _| match n {
        0 => ok_reply("fine"),
        _ => Reply::SendThenClose(Vec::new()),
    });
    let (scenario, mut world) = world(&server.url, "true", &["/a"]);
    let actions = venom_runner::actions(&scenario);
    for round in 0..3 {
        let mut ctx = Context::new();
        let outcome = actions[0]
            .run(&mut world, &mut ctx)
            .unwrap_or_else(|e| panic!("round {round}: {}", venom_engine::one_line(&e)));
        let response = outcome.exchange.and_then(|e| e.response);
        assert_eq!(response.map(|r| r.status), Some(200), "round {round}");
    }
}

#[test]
fn a_slow_reset_command_does_not_leave_stale_connections_behind() {
    // The server closes connections idle for 1 s; the reset takes longer than that.
    let server = RawServer::start(|_, _| ok_reply("fine"));
    let (scenario, mut world) = world(&server.url, "sleep 1.3", &["/a"]);
    let actions = venom_runner::actions(&scenario);
    let mut ctx = Context::new();
    actions[0]
        .run(&mut world, &mut ctx)
        .expect("before the reset");
    world.reset().expect("reset");
    let outcome = actions[0]
        .run(&mut world, &mut ctx)
        .expect("after the reset");
    assert_eq!(
        outcome.exchange.and_then(|e| e.response).map(|r| r.status),
        Some(200)
    );
}

#[test]
fn a_garbage_answer_or_a_truncated_body_is_a_finding_of_its_step() {
    let server = RawServer::start(|_, path| match path {
        "/garbage" => Reply::SendThenClose(b"garbage\r\n\r\n".to_vec()),
        "/truncated" => Reply::SendThenClose(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this".to_vec(),
        ),
        "/silent" => Reply::SendThenClose(Vec::new()),
        _ => ok_reply("fine"),
    });
    let (scenario, mut world) = world(&server.url, "true", &["/garbage", "/truncated", "/silent"]);
    let actions = venom_runner::actions(&scenario);
    for action in &actions {
        let mut ctx = Context::new();
        let outcome = action
            .run(&mut world, &mut ctx)
            .unwrap_or_else(|e| panic!("{}: {}", action.name, venom_engine::one_line(&e)));
        let exchange = outcome.exchange.expect("the exchange is kept");
        assert!(exchange.response.is_none(), "{}: {exchange:?}", action.name);
        let error = exchange.error.clone().expect("why there is no response");
        assert!(!error.is_empty(), "{}", action.name);
        match no_server_errors(&scenario, &mut world, &action.name, &exchange) {
            Verdict::Broken { message, .. } => {
                assert!(message.contains("got no response"), "{message}");
                assert!(message.contains(&error), "{message} / {error}");
            }
            Verdict::Holds => panic!("{}: no_server_errors holds", action.name),
        }
    }
}

#[test]
fn an_api_that_stopped_answering_ends_the_run_and_says_so() {
    let mut server = RawServer::start(|_, _| ok_reply("fine"));
    let (scenario, mut world) = world(&server.url, "true", &["/a"]);
    let actions = venom_runner::actions(&scenario);
    let mut ctx = Context::new();
    actions[0].run(&mut world, &mut ctx).expect("while it runs");
    server.stop();
    let err = actions[0].run(&mut world, &mut ctx).unwrap_err();
    let text = venom_engine::one_line(&err);
    assert!(text.contains("the API stopped answering"), "{text}");
    assert!(text.contains(&server.url), "{text}");
}

#[test]
fn a_request_that_reads_a_key_unset_on_this_path_skips_the_step_with_why() {
    let server = RawServer::start(|_, _| ok_reply("{\"id\": 7}"));
    let text = format!(
        "base_url = \"{}\"\n[reset]\ncommand = \"true\"\n\
         [[actions]]\nname = \"make\"\nmethod = \"POST\"\npath = \"/m\"\nextract = {{ id = \"$.id\" }}\n\
         [[actions]]\nname = \"get\"\nmethod = \"GET\"\npath = \"/m/{{{{ ctx.id }}}}\"\n",
        server.url
    );
    let scenario = venom_scenario::parse(&text, Path::new("unset.toml")).expect("scenario");
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let actions = venom_runner::actions(&scenario);
    // `get` before `make`: `id` is unset on this path.
    let outcome = actions[1]
        .run(&mut world, &mut Context::new())
        .unwrap_or_else(|e| panic!("{}", venom_engine::one_line(&e)));
    assert!(outcome.exchange.is_none());
    assert_eq!(outcome.warnings.len(), 1, "{:?}", outcome.warnings);
    assert!(
        outcome.warnings[0].starts_with("action `get` skipped where its request cannot be built")
            && outcome.warnings[0].contains("id"),
        "{:?}",
        outcome.warnings
    );
}
