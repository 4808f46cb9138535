//! What changed between a scenario written earlier and the one the document gives now.

/// The fields of an action compared between two scenario texts.
const COMPARED: [&str; 7] = [
    "method", "path", "body", "expect", "extract", "requires", "headers",
];

/// One line per change from the actions of `old` (a scenario file's text; one that cannot be
/// read as TOML is one change) to those of `new`: `+ name (METHOD path)` added,
/// `- name (METHOD path)` gone, `~ name: field was … now …` changed. Empty: nothing changed.
pub fn changes(old: &str, new: &str) -> Vec<String> {
    let Ok(old) = old.parse::<toml::Table>() else {
        return vec!["the existing file is not valid TOML: everything is new".into()];
    };
    let new = new.parse::<toml::Table>().unwrap_or_default();
    let (old, new) = (actions(&old), actions(&new));
    let mut lines = Vec::new();
    for (name, action) in &new {
        match old.iter().find(|(n, _)| n == name) {
            None => lines.push(format!("+ {name} ({})", label(action))),
            Some((_, before)) => {
                for field in COMPARED {
                    let (was, now) = (before.get(field), action.get(field));
                    if was != now {
                        lines.push(format!(
                            "~ {name}: {field} was {} now {}",
                            shown(was),
                            shown(now)
                        ));
                    }
                }
            }
        }
    }
    for (name, action) in &old {
        if !new.iter().any(|(n, _)| n == name) {
            lines.push(format!("- {name} ({})", label(action)));
        }
    }
    lines
}

fn actions(scenario: &toml::Table) -> Vec<(String, toml::Table)> {
    scenario
        .get("actions")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let table = a.as_table()?;
            let name = table.get("name")?.as_str()?.to_string();
            Some((name, table.clone()))
        })
        .collect()
}

fn label(action: &toml::Table) -> String {
    let text = |k: &str| action.get(k).and_then(toml::Value::as_str).unwrap_or("?");
    format!("{} {}", text("method"), text("path"))
}

fn shown(value: Option<&toml::Value>) -> String {
    value.map_or_else(
        || "(none)".into(),
        |v| crate::error::one_line(&v.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::changes;

    #[test]
    fn added_removed_and_changed_actions_are_told() {
        let old = "[[actions]]\nname = \"a\"\nmethod = \"GET\"\npath = \"/a\"\n\
                   [[actions]]\nname = \"b\"\nmethod = \"GET\"\npath = \"/b\"\nexpect = [200]\n";
        let new =
            "[[actions]]\nname = \"b\"\nmethod = \"GET\"\npath = \"/b\"\nexpect = [200, 404]\n\
                   [[actions]]\nname = \"c\"\nmethod = \"POST\"\npath = \"/c\"\n";
        assert_eq!(
            changes(old, new),
            [
                "~ b: expect was [200] now [200, 404]",
                "+ c (POST /c)",
                "- a (GET /a)"
            ]
        );
        assert!(changes(new, new).is_empty());
    }
}
