//! The secrets of a run, kept out of everything venom prints or writes.
//!
//! Once a command has read its scenario it calls [`install`]; from then on the reports
//! ([`redact_data`]) and every line printed ([`redact`]: errors, replay messages) go through
//! the scenario's [`Redactor`]. One per process: the CLI runs one scenario, and the error
//! printer runs after the command returned, where the scenario is gone.

use crate::failure::Failure;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::{Mutex, OnceLock, PoisonError};
use venom_report::Redactor;
use venom_scenario::Scenario;

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// Secrets learned during the run: the credentials the roles' logins were given.
static LEARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The redactor of `scenario`: the default secret names and its `[redact] fields`, and the
/// values of the environment variables it reads and of every variable with a secret's name
/// (`API_TOKEN`, `DB_PASSWORD`…).
pub fn redactor(scenario: &Scenario) -> Redactor {
    let mut redactor = Redactor::new(&scenario.redact_fields);
    for (name, value) in std::env::vars() {
        if scenario.env_names.contains(&name) || redactor.is_secret_name(&name) {
            redactor.secret(&value);
        }
    }
    redactor
}

/// Makes `scenario`'s redactor the one every later output goes through (the first call wins).
pub fn install(scenario: &Scenario) {
    let _ = REDACTOR.set(redactor(scenario));
}

/// Adds `secrets` (credentials issued during the run) to what every later output hides.
pub fn learn(secrets: &[String]) {
    LEARNED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(secrets.iter().cloned());
}

/// The installed redactor with the secrets learned since.
fn current() -> Redactor {
    let mut redactor = REDACTOR.get().cloned().unwrap_or_default();
    for secret in LEARNED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        redactor.secret(secret);
    }
    redactor
}

/// `text` without the secrets known so far.
pub fn redact(text: &str) -> String {
    current().text(text)
}

/// `text` without the secrets known so far nor those the `steps` of a replay hold in their
/// secret fields (a token the replayed login answered).
pub fn redact_learning(text: &str, steps: &[venom_engine::PathStep]) -> String {
    let mut redactor = current();
    redactor.learn_from(&steps);
    redactor.text(text)
}

/// `data` (a run report, a load summary) without secrets: those of the environment, and those
/// its own secret fields hold (a token extracted into the context is redacted in every URL,
/// header and message). Fails rather than show data that cannot be redacted.
pub fn redact_data<T: Serialize + DeserializeOwned>(data: &T) -> Result<T, Failure> {
    current().redacted(data).map_err(Failure::invalid_from)
}
