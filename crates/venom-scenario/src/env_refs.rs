//! Which environment variables a scenario reads, found in its text: `env.NAME` and
//! `env["NAME"]` in expressions and templates, `${NAME}` in `[server].env` values.

use std::collections::BTreeSet;

/// The names of the environment variables `text` reads. Venom's own variables
/// (`VENOM_PORT`, `VENOM_PROXY_URL`) are not the user's and are left out.
pub(crate) fn env_refs(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (start, _) in text.match_indices("env.") {
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        names.insert(identifier(&text[start + 4..]));
    }
    for (start, _) in text.match_indices("env[") {
        let rest = text[start + 4..].trim_start_matches(['"', '\'', '\\']);
        names.insert(identifier(rest));
    }
    for (start, _) in text.match_indices("${") {
        names.insert(identifier(&text[start + 2..]));
    }
    names.retain(|n| !n.is_empty() && !n.starts_with("VENOM_"));
    names
}

/// The identifier at the start of `text`.
fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_env_members_indexes_and_server_variables() {
        let text = r#"
            headers = { "X-Key" = "{{ env.API_KEY }}" }
            expr = "env['TENANT'] == 'a' && myenv.NOT_THIS == 1"
            env = { DB = "${DATABASE_URL}", P = "${VENOM_PORT}" }
        "#;
        let names: Vec<String> = env_refs(text).into_iter().collect();
        assert_eq!(names, ["API_KEY", "DATABASE_URL", "TENANT"]);
    }
}
