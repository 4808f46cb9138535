//! `venom init --openapi`: a scenario generated from the API's OpenAPI document, and the same
//! scenario in memory for `venom explore --openapi`.

use crate::args::InitArgs;
use crate::failure::Failure;
use std::path::{Path, PathBuf};
use venom_report::EXIT_OK;
use venom_scenario::{OpenApiSource, ResetSpec, Scenario};

/// Runs `venom init`.
pub fn command(args: &InitArgs) -> Result<i32, Failure> {
    let source = source_of(&args.openapi);
    let spec = venom_runner::load_document(&source).map_err(Failure::invalid_from)?;
    refuse_empty(&spec)?;
    let reference = match (&source, &args.output) {
        (OpenApiSource::Url(url), _) => url.clone(),
        (OpenApiSource::File(path), Some(output)) => relative_to_folder_of(path, output),
        (OpenApiSource::File(path), None) => path.display().to_string(),
    };
    let text = venom_openapi::scenario_text(
        &spec,
        &venom_openapi::GenerateOptions {
            base_url: args.base_url.clone().or_else(|| origin_of(&source)),
            spec_reference: reference,
            negative: args.negative,
        },
    );
    let Some(output) = &args.output else {
        print!("{text}");
        return Ok(EXIT_OK);
    };
    if let Ok(old) = std::fs::read_to_string(output) {
        let changes = venom_openapi::changes(&old, &text);
        if changes.is_empty() {
            eprintln!(
                "{}: the document's operations are unchanged",
                output.display()
            );
        } else {
            eprintln!(
                "{}: {} change(s) since it was written:",
                output.display(),
                changes.len()
            );
            for change in &changes {
                eprintln!("  {change}");
            }
        }
        if !args.force {
            eprintln!(
                "{} is left as it is (it may hold your edits): pass --force to write it again",
                output.display()
            );
            return Ok(EXIT_OK);
        }
    }
    std::fs::write(output, &text)
        .map_err(|e| Failure::invalid(format!("cannot write {}: {e}", output.display())))?;
    let actions = text.matches("\n[[actions]]\n").count();
    eprintln!(
        "wrote {}: {actions} actions from {} operations of {}; fill in its TODOs ([reset] first), then `venom check {0}`",
        output.display(),
        spec.operations.len(),
        spec.origin
    );
    Ok(EXIT_OK)
}

/// A document with no operation gives no scenario (a scenario needs an action).
fn refuse_empty(spec: &venom_openapi::Spec) -> Result<(), Failure> {
    if spec.operations.is_empty() {
        return Err(Failure::invalid(format!(
            "{}: the document has no operation under `paths` (webhooks are requests the API sends, not ones venom can make), so there is no action to generate",
            spec.origin
        )));
    }
    Ok(())
}

/// The origin (`http://host:port`) of a document fetched from a URL: the API that serves its
/// own document is there.
fn origin_of(source: &OpenApiSource) -> Option<String> {
    let OpenApiSource::Url(url) = source else {
        return None;
    };
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    Some(format!("{scheme}://{host}"))
}

/// `--openapi`'s value: an `http(s)://` URL, else a file.
pub fn source_of(argument: &str) -> OpenApiSource {
    if argument.starts_with("http://") || argument.starts_with("https://") {
        OpenApiSource::Url(argument.to_string())
    } else {
        OpenApiSource::File(PathBuf::from(argument))
    }
}

/// The scenario `venom explore --openapi SPEC` explores: the one `venom init` would write
/// (named `file` in messages), merged into `user`'s when a scenario file is given too: the
/// user's tables win, and the generated actions, observations and context keys it does not
/// name are added. Alone, it is also written to `file` when `write` (for `venom replay`).
pub fn generated_scenario(
    (openapi, negative): (&str, bool),
    base_url: Option<&str>,
    user: Option<Scenario>,
    (file, write): (&Path, bool),
) -> Result<Scenario, Failure> {
    let source = source_of(openapi);
    let spec = venom_runner::load_document(&source).map_err(Failure::invalid_from)?;
    refuse_empty(&spec)?;
    let reference = match &source {
        OpenApiSource::Url(url) => url.clone(),
        OpenApiSource::File(path) => std::path::absolute(path)
            .unwrap_or_else(|_| path.clone())
            .display()
            .to_string(),
    };
    let base_url = base_url
        .map(str::to_string)
        .or_else(|| user.as_ref().map(|u| u.base_url.clone()))
        .or_else(|| origin_of(&source));
    let text = venom_openapi::scenario_text(
        &spec,
        &venom_openapi::GenerateOptions {
            base_url,
            spec_reference: reference,
            negative,
        },
    );
    let generated = venom_scenario::parse(&text, file).map_err(|e| {
        Failure::invalid(format!(
            "the scenario generated from {} is invalid (a venom bug, please report it): {e}",
            spec.origin
        ))
    })?;
    if user.is_none() && write {
        std::fs::write(file, &text)
            .map_err(|e| Failure::invalid(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(match user {
        None => generated,
        Some(user) => merged(user, generated),
    })
}

/// `user` with what `generated` adds: its actions, observations and `[context]` keys of other
/// names, and its `[openapi]` document when the user names none.
fn merged(mut user: Scenario, generated: Scenario) -> Scenario {
    for action in generated.actions {
        if user.action(&action.name).is_none() {
            user.actions.push(action);
        }
    }
    for observation in generated.observations {
        if !user.observations.iter().any(|o| o.name == observation.name) {
            user.observations.push(observation);
        }
    }
    for (key, value) in generated.initial_context {
        if !user.initial_context.iter().any(|(k, _)| k == &key) {
            user.initial_context.push((key, value));
        }
    }
    if user.openapi.is_none() {
        user.openapi = generated.openapi;
    }
    // Only a reset request found in the document: the generated TODO command would fail.
    if user.reset.is_none() && matches!(generated.reset, Some(ResetSpec::Request(_))) {
        user.reset = generated.reset;
    }
    user
}

/// How a scenario at `output` names the document at `spec`: its path relative to the
/// scenario's folder when it is in or below it, else absolute.
fn relative_to_folder_of(spec: &Path, output: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let spec = absolute(spec);
    let folder = absolute(output)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    match spec.strip_prefix(&folder) {
        Ok(inside) => inside.display().to_string(),
        Err(_) => spec.display().to_string(),
    }
}
