//! `${VENOM_PORT}`: the ports venom chooses for the servers of one run are all different, even
//! when the workers choose theirs at the same moment.

use std::collections::HashSet;
use std::path::Path;
use venom_runner::{choose_port, PORT_VAR};

#[test]
fn ports_chosen_at_the_same_time_are_all_different() {
    let text = "base_url = \"http://127.0.0.1:${VENOM_PORT}\"\n\
                [server]\ncommand = \"true\"\n\
                [[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/\"\n";
    let scenario = venom_scenario::parse(text, Path::new("ports.toml")).expect("scenario");
    for _ in 0..200 {
        let ports: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16)
                .map(|_| scope.spawn(|| choose_port(&scenario).expect("a free port")))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    let (_, env) = h.join().expect("no panic");
                    let (name, port) = env.into_iter().next().expect("the port variable");
                    assert_eq!(name, PORT_VAR);
                    port
                })
                .collect()
        });
        let distinct: HashSet<&String> = ports.iter().collect();
        assert_eq!(
            distinct.len(),
            ports.len(),
            "a port chosen twice: {ports:?}"
        );
    }
}
