//! Invariants that read the same resource after one step share one GET; any other request,
//! rollback or reset makes the next check ask the API again.

mod common;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use venom_engine::{Context, StepView, World};
use venom_runner::{HttpWorld, Processes};

#[derive(Default)]
struct Counters {
    reads: AtomicU64,
    value: AtomicU64,
}

/// A counter API on 127.0.0.1 that counts how often it is read; runs until the test ends.
fn start_api() -> (String, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let app = Router::new()
        .route(
            "/counter",
            get(|State(c): State<Arc<Counters>>| async move {
                c.reads.fetch_add(1, Ordering::SeqCst);
                Json(json!({ "value": c.value.load(Ordering::SeqCst) }))
            }),
        )
        .route(
            "/counter/inc",
            post(|State(c): State<Arc<Counters>>| async move {
                Json(json!({ "value": c.value.fetch_add(1, Ordering::SeqCst) + 1 }))
            }),
        )
        .route(
            "/reset",
            post(|State(c): State<Arc<Counters>>| async move {
                c.value.store(0, Ordering::SeqCst);
                Json(Value::Null)
            }),
        )
        .with_state(Arc::clone(&counters));
    let url = common::serve(app);
    (url, counters)
}

#[test]
fn identical_get_checks_share_one_request_until_the_state_changes() {
    let (url, counters) = start_api();
    let text = format!(
        "base_url = \"{url}\"\n\
         [reset]\nrequest = {{ method = \"POST\", path = \"/reset\" }}\n\
         [[actions]]\nname = \"inc\"\nmethod = \"POST\"\npath = \"/counter/inc\"\n\
         [[invariants]]\nname = \"below_ten\"\ncheck = {{ method = \"GET\", path = \"/counter\" }}\n\
         expr = \"last.body.value < 10\"\n\
         [[invariants]]\nname = \"even_or_odd\"\ncheck = {{ method = \"GET\", path = \"/counter\" }}\n\
         expr = \"last.body.value % 2 == 0 || last.body.value % 2 == 1\"\n"
    );
    let scenario = venom_scenario::parse(&text, Path::new("counter.toml")).expect("scenario");
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let actions = venom_runner::actions(&scenario);
    let invariants = venom_runner::invariants(&scenario);
    let user: Vec<_> = invariants
        .iter()
        .filter(|i| i.name == "below_ten" || i.name == "even_or_odd")
        .collect();
    assert_eq!(user.len(), 2);
    let reads = || counters.reads.load(Ordering::SeqCst);
    let check_all = |world: &mut HttpWorld, ctx: &Context| {
        let view = StepView {
            ctx,
            action: None,
            exchange: None,
            earlier: &[],
        };
        for invariant in &user {
            invariant.check(world, &view).expect("check");
        }
    };

    let mut ctx = Context::new();
    let before = reads();
    check_all(&mut world, &ctx);
    assert_eq!(reads() - before, 1, "two invariants, one GET");
    check_all(&mut world, &ctx);
    assert_eq!(reads() - before, 1, "nothing changed: answered from memory");

    actions[0].run(&mut world, &mut ctx).expect("inc");
    check_all(&mut world, &ctx);
    assert_eq!(reads() - before, 2, "an action ran: the API is asked again");

    world.reset().expect("reset");
    check_all(&mut world, &ctx);
    assert_eq!(reads() - before, 3, "a reset: the API is asked again");
}
