//! Finding the line of a JSON pointer in a document's text, for error messages.
//!
//! The parsers give positions only for syntax errors; for a problem found later (a response
//! key that is no status, a `$ref` to nothing) the pointer's keys are looked for in order in
//! the text, each after the previous one, which finds the place in ordinary JSON and YAML.

/// The 1-based (line, column) of the last key of `pointer` in `text`, if it is found there.
pub(crate) fn locate(text: &str, pointer: &str) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut found = None;
    for segment in pointer.split('/').skip(1) {
        let key = segment.replace("~1", "/").replace("~0", "~");
        if key.chars().all(|c| c.is_ascii_digit()) {
            continue; // a list index: its place is not a key
        }
        let offset = find_key(text, at, &key)?;
        at = offset + key.len();
        found = Some(offset);
    }
    found.map(|offset| line_column(text, offset))
}

/// The byte offset of the next occurrence of `key` written as a mapping key (bare, `'…'` or
/// `"…"`, followed by `:`) at or after `from`.
fn find_key(text: &str, from: usize, key: &str) -> Option<usize> {
    let mut start = from;
    while let Some(found) = text.get(start..)?.find(key) {
        let offset = start + found;
        let before = text[..offset].chars().next_back();
        let after = &text[offset + key.len()..];
        let (quoted_before, rest) = match (before, after.chars().next()) {
            (Some(q @ ('"' | '\'')), Some(close)) if close == q => (true, &after[1..]),
            _ => (false, after),
        };
        let starts_key =
            quoted_before || matches!(before, None | Some(' ' | '\t' | '\n' | '{' | ',' | '-'));
        if starts_key && rest.trim_start_matches([' ', '\t']).starts_with(':') {
            return Some(if quoted_before { offset - 1 } else { offset });
        }
        start = offset + key.len().max(1);
    }
    None
}

/// 1-based (line, column) of byte `offset` in `text`; the column counts characters.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_key_a_pointer_ends_on_in_yaml_and_json() {
        let yaml =
            "openapi: 3.0.0\npaths:\n  /orders:\n    get:\n      responses:\n        '20x':\n";
        assert_eq!(
            locate(yaml, "/paths/~1orders/get/responses/20x"),
            Some((6, 9))
        );
        let json = "{\"paths\": {\"/a\": {\"get\": {}},\n \"/b\": {\"get\": 1}}}";
        assert_eq!(locate(json, "/paths/~1b/get"), Some((2, 9)));
    }

    #[test]
    fn a_key_that_is_only_part_of_a_word_or_a_value_is_not_taken() {
        let yaml = "a:\n  description: get the pets\n  xget: 1\n  get: 2\n";
        assert_eq!(locate(yaml, "/a/get"), Some((4, 3)));
        assert_eq!(locate(yaml, "/a/put"), None);
    }
}
