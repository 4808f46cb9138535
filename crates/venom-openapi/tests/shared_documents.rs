//! The public OpenAPI documents in `tests/documents/` (copied unchanged from `../shared/openapi/`,
//! sources and licenses in its README, so that a clean clone has them): each is read,
//! and its generated scenario is valid TOML that names one action per operation.

use std::path::PathBuf;

fn shared_documents() -> Vec<PathBuf> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/documents");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            )
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 9,
        "expected the shared documents, found {files:?}"
    );
    files
}

#[test]
fn every_shared_document_is_read_and_gives_a_scenario() {
    for file in shared_documents() {
        let spec = venom_openapi::load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let text = venom_openapi::scenario_text(
            &spec,
            &venom_openapi::GenerateOptions {
                base_url: None,
                spec_reference: file.display().to_string(),
                negative: false,
            },
        );
        let table: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: not TOML: {e}\n{text}", file.display()));
        let actions = table
            .get("actions")
            .and_then(|a| a.as_array())
            .map_or(0, Vec::len);
        let plan = venom_openapi::plan(&spec);
        assert_eq!(
            actions + usize::from(plan.reset.is_some()),
            spec.operations.len(),
            "{}",
            file.display()
        );
        if std::env::var_os("SHOW").is_some() {
            println!("==== {}\n{text}", file.display());
        }
    }
}
