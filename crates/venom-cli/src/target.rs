//! `--base-url` and `--no-server`: the API under test chosen on the command line instead of in
//! the scenario file.

use crate::args::TargetOverrides;
use crate::failure::Failure;
use venom_scenario::{Scenario, PORT_PLACEHOLDER};

/// `scenario` aimed where `overrides` say: another `base_url` (the `[server]`'s readiness URL
/// follows it when it was derived from it), no `[server]` started.
pub fn overridden(
    mut scenario: Scenario,
    overrides: &TargetOverrides,
) -> Result<Scenario, Failure> {
    if let Some(url) = &overrides.base_url {
        let valid = ["http://", "https://"]
            .iter()
            .any(|p| url.len() > p.len() && url.starts_with(p));
        if !valid || url.contains(PORT_PLACEHOLDER) {
            return Err(Failure::invalid(format!(
                "--base-url {url}: expected a URL starting with http:// or https:// (with its port)"
            )));
        }
        let url = url.trim_end_matches('/').to_string();
        if let Some(server) = &mut scenario.server {
            if let Some(path) = server.ready_url.strip_prefix(&scenario.base_url) {
                server.ready_url = format!("{url}{path}");
            }
        }
        scenario.base_url = url;
    }
    if overrides.no_server {
        scenario.server = None;
        if scenario.chooses_port() {
            return Err(Failure::invalid(format!(
                "--no-server: base_url `{}` leaves its port to the [server] venom starts, expected --base-url with the running API's URL",
                scenario.base_url
            )));
        }
    }
    Ok(scenario)
}
