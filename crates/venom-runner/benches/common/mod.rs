//! What the runner's benches share.

use venom_engine::{Explorer, ExplorerConfig};
use venom_runner::HttpWorld;
use venom_scenario::Scenario;

/// The explorer of `scenario` over `world`, breadth-first with the scenario's state keys and
/// depth, and a step budget far above what the demo needs.
pub fn explorer(scenario: &Scenario, world: HttpWorld) -> Explorer<HttpWorld> {
    let config = ExplorerConfig::default()
        .state_keys(scenario.state_from_context.clone())
        .max_steps(100_000)
        .max_depth(scenario.explore.max_depth);
    Explorer::new(
        world,
        venom_runner::actions(scenario),
        venom_runner::invariants(scenario),
    )
    .with_config(config)
}
