//! Roles against the demo API: a role logs in on its first request and keeps its session; a
//! session the API ended (401) is opened again once; `relogin = "per_path"` logs in again after
//! every rollback; the cookie jar sends back what the login set; a role that cannot log in
//! skips the request instead of ending the run; an action of several requests sends them in
//! order and stops at the first that fails.

use std::path::Path;
use venom_engine::{Context, World};
use venom_runner::{HttpWorld, Processes, Sent};
use venom_scenario::Vars;

/// The demo API on a fresh SQLite file, and a scenario for it with `role` (bob, who logs in
/// with `password` after registering with `pw-1234`) and an action `list` that reads the notes
/// as bob.
fn world_with(
    dir: &tempfile::TempDir,
    password: &str,
    role: &str,
) -> (venom_demo::DemoServer, HttpWorld) {
    let server = venom_demo::DemoServer::start(&dir.path().join("notes.db")).unwrap();
    let text = format!(
        "base_url = \"{}\"\n\
         [reset]\nrequest = {{ method = \"POST\", path = \"/admin/reset\" }}\n\
         [rollback]\nmode = \"sqlite\"\nsqlite_path = \"notes.db\"\n\
         [roles.bob]\n\
         login = [\n\
           {{ method = \"POST\", path = \"/users\", body = {{ name = \"bob\", password = \"pw-1234\" }}, expect = [201, 409] }},\n\
           {{ method = \"POST\", path = \"/login\", body = {{ name = \"bob\", password = \"{password}\" }}, extract = {{ token = \"$.token\" }} }},\n\
         ]\n{role}\n\
         [[actions]]\nname = \"list\"\nas = \"bob\"\nmethod = \"GET\"\npath = \"/notes\"\n",
        server.base_url()
    );
    let file = dir.path().join("roles.toml");
    std::fs::write(&file, &text).unwrap();
    let scenario = venom_scenario::load(Path::new(&file)).unwrap();
    let world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    (server, world)
}

/// `GET /notes` sent as bob: its status, or why it was not sent.
fn list_as_bob(world: &mut HttpWorld) -> Result<u16, String> {
    let spec = venom_scenario::RequestSpec {
        method: "GET".into(),
        path: venom_scenario::Template::literal("/notes"),
        body: None,
        headers: Vec::new(),
    };
    let ctx = Context::new();
    match world
        .exchange(&spec, Some("bob"), None, &Vars::new(&ctx))
        .unwrap()
    {
        Sent::Exchanged(e) => Ok(e.response.expect("an answer").status),
        Sent::NotBuilt(why) => Err(why),
    }
}

/// How many distinct session tokens (the demo's start with `tok_`) the logins were given.
fn logins(world: &HttpWorld) -> usize {
    let issued = world.issued_credentials().iter();
    let tokens: std::collections::BTreeSet<&String> =
        issued.filter(|c| c.starts_with("tok_")).collect();
    tokens.len()
}

#[test]
fn a_role_keeps_its_session_and_logs_in_again_when_the_api_ended_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut world) = world_with(&dir, "pw-1234", "bearer = \"token\"");
    assert_eq!(list_as_bob(&mut world), Ok(200));
    assert_eq!(list_as_bob(&mut world), Ok(200));
    assert_eq!(logins(&world), 1, "one login serves every request");
    // A checkpoint from before any session: rolling back ends it on the server.
    world.reset().unwrap();
    let empty = world.checkpoint().unwrap();
    assert_eq!(list_as_bob(&mut world), Ok(200));
    assert_eq!(logins(&world), 2, "the reset ended the first session");
    world.rollback(empty).unwrap();
    assert_eq!(
        list_as_bob(&mut world),
        Ok(200),
        "a 401 logs in again, once"
    );
    assert_eq!(logins(&world), 3);
}

#[test]
fn per_path_sessions_log_in_again_after_every_rollback_even_when_the_old_one_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut world) = world_with(
        &dir,
        "pw-1234",
        "bearer = \"token\"\nrelogin = \"per_path\"",
    );
    assert_eq!(list_as_bob(&mut world), Ok(200));
    let logged_in = world.checkpoint().unwrap();
    assert_eq!(list_as_bob(&mut world), Ok(200));
    assert_eq!(logins(&world), 1);
    world.rollback(logged_in).unwrap();
    assert_eq!(list_as_bob(&mut world), Ok(200));
    assert_eq!(logins(&world), 2, "a new path, a new login");
}

#[test]
fn a_cookie_role_sends_back_the_cookie_its_login_set() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut world) = world_with(&dir, "pw-1234", "cookies = true");
    assert_eq!(list_as_bob(&mut world), Ok(200));
    assert_eq!(logins(&world), 1);
    let issued = world.issued_credentials();
    assert!(
        issued.iter().any(|c| c.starts_with("session=tok_")),
        "the cookie header is a secret"
    );
    assert!(
        issued.iter().any(|c| c.starts_with("tok_")),
        "and so is the cookie's value alone"
    );
}

#[test]
fn a_role_that_cannot_log_in_leaves_its_request_unsent_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut world) = world_with(
        &dir,
        "wrong",
        "header = { name = \"X-Token\", key = \"token\" }",
    );
    let why = list_as_bob(&mut world).unwrap_err();
    assert_eq!(
        why,
        format!(
            "role `bob` cannot log in: POST {}/login answered 401",
            server.base_url()
        )
    );
    assert_eq!(logins(&world), 0);
}

#[test]
fn an_action_stops_at_its_first_failed_step_and_keeps_the_requests_it_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = venom_demo::DemoServer::start(&dir.path().join("notes.db")).unwrap();
    let text = format!(
        "base_url = \"{}\"\n\
         [reset]\nrequest = {{ method = \"POST\", path = \"/admin/reset\" }}\n\
         [roles.bob]\n\
         login = [\n\
           {{ method = \"POST\", path = \"/users\", body = {{ name = \"bob\", password = \"pw-1234\" }}, expect = [201, 409] }},\n\
           {{ method = \"POST\", path = \"/login\", body = {{ name = \"bob\", password = \"pw-1234\" }}, extract = {{ token = \"$.token\" }} }},\n\
         ]\nbearer = \"token\"\n\
         [[actions]]\nname = \"write_then_read\"\nas = \"bob\"\n\
         steps = [\n\
           {{ method = \"POST\", path = \"/notes\", body = {{ text = \"x\" }}, expect = [201], extract = {{ id = \"$.id\" }} }},\n\
           {{ method = \"GET\", path = \"/notes/{{{{ ctx.id }}}}\", extract = {{ read = \"$.text\" }} }},\n\
         ]\nset = {{ done = true }}\n\
         [[actions]]\nname = \"missing_then_list\"\nas = \"bob\"\n\
         steps = [\n\
           {{ method = \"GET\", path = \"/notes/999\", expect = [200], extract = {{ seen = {{ path = \"$.error\", on = \"any\" }} }} }},\n\
           {{ method = \"GET\", path = \"/notes\" }},\n\
         ]\nset = {{ done = true }}\n",
        server.base_url()
    );
    let file = dir.path().join("steps.toml");
    std::fs::write(&file, &text).unwrap();
    let scenario = venom_scenario::load(&file).unwrap();
    let mut world = HttpWorld::connect(&scenario, &Processes::default()).expect("world");
    let actions = venom_runner::actions(&scenario);

    // Both steps run, the context flowing from the first to the second, then `set`.
    let mut ctx = Context::new();
    let outcome = actions[0].run(&mut world, &mut ctx).unwrap();
    assert_eq!(outcome.earlier.len(), 1, "the POST is kept before the GET");
    assert_eq!(outcome.earlier[0].response.as_ref().unwrap().status, 201);
    assert!(outcome.exchange.unwrap().request.url.ends_with("/notes/1"));
    assert_eq!(ctx.get("read"), Some(&serde_json::json!("x")));
    assert_eq!(ctx.get("done"), Some(&serde_json::json!(true)));

    // The first step answers 404, outside its `expect`: the second is not sent, no `set`, but
    // what `on = "any"` extracts is kept.
    let mut ctx = Context::new();
    let outcome = actions[1].run(&mut world, &mut ctx).unwrap();
    assert!(outcome.earlier.is_empty());
    assert_eq!(outcome.exchange.unwrap().response.unwrap().status, 404);
    assert_eq!(
        ctx.get("seen"),
        Some(&serde_json::json!("note 999 not found"))
    );
    assert_eq!(ctx.get("done"), None);
}
