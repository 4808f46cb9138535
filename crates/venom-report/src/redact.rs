//! Keeping secrets out of every output: header values, body and query fields with a secret's
//! name, and every value known to be secret wherever it appears.

use crate::report::RunReport;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The data could not be redacted and keep its shape, so it must not be shown.
#[derive(Debug, thiserror::Error)]
#[error("cannot redact the secrets of the output and keep its format")]
pub struct RedactError(#[source] serde_json::Error);

/// What reports show instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Name fragments that mark a header, a body field, a query parameter or a context key as
/// secret (matched in lower case, `-` read as `_`): `authorization`, `x-api-key`,
/// `access_token`, `user_password`…
pub const SECRET_NAMES: &[&str] = &[
    "authorization",
    "cookie",
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "session",
    "credential",
    "private_key",
];

/// Values shorter than this are not searched for in free text (a secret of 2 characters would
/// blank every such pair of characters); they are still redacted in fields with a secret name.
pub const MIN_SECRET_LEN: usize = 4;

/// Removes secrets from reports and messages.
///
/// A field, header or query parameter whose name contains one of the secret names (the
/// defaults, [`SECRET_NAMES`], and the scenario's own) has its value replaced by
/// [`REDACTED`]; each value so found, and each value given with [`Redactor::secret`] (e.g. one
/// read from the environment), is then replaced wherever else it appears: in URLs, messages,
/// bodies and context values.
#[derive(Debug, Clone)]
pub struct Redactor {
    names: Vec<String>,
    values: Vec<String>,
}

impl Default for Redactor {
    /// A redactor for the default secret names.
    fn default() -> Redactor {
        Redactor::new(Vec::<String>::new())
    }
}

impl Redactor {
    /// A redactor for the default secret names plus `extra` ones.
    pub fn new<I, S>(extra: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let names = SECRET_NAMES
            .iter()
            .map(|n| n.to_string())
            .chain(extra.into_iter().map(|n| normalize(n.as_ref())))
            .filter(|n| !n.is_empty())
            .collect();
        Redactor {
            names,
            values: Vec::new(),
        }
    }

    /// Adds a value that must never be shown (ignored when shorter than [`MIN_SECRET_LEN`]).
    pub fn secret(&mut self, value: &str) {
        if value.chars().count() >= MIN_SECRET_LEN && !self.values.iter().any(|v| v == value) {
            self.values.push(value.to_string());
            // Longest first, so that a secret containing another is replaced whole.
            self.values
                .sort_by_key(|v| std::cmp::Reverse(v.chars().count()));
        }
    }

    /// Whether `name` (a header, field, parameter or context key) names a secret.
    pub fn is_secret_name(&self, name: &str) -> bool {
        let name = normalize(name);
        self.names.iter().any(|n| name.contains(n.as_str()))
    }

    /// Learns the secret values `data` holds in fields and headers with a secret name (a
    /// token in a login answer, a password in a request body).
    pub fn learn_from(&mut self, data: &impl serde::Serialize) {
        if let Ok(value) = serde_json::to_value(data) {
            self.learn(&value);
        }
    }

    /// `report` with every secret redacted, in every part (paths, evidence, states, messages,
    /// warnings). Secrets found in one violation are redacted in all.
    pub fn report(&mut self, report: &RunReport) -> Result<RunReport, RedactError> {
        self.redacted(report)
    }

    /// `data` (a report, a load summary) with every secret redacted, learning the secrets its
    /// own secret fields hold first. When blanking a secret field breaks `data`'s type (a
    /// number field with a secret's name), only the secret values in its strings are
    /// replaced; when even that does not fit, it fails, and nothing of `data` may be shown.
    pub fn redacted<T: Serialize + DeserializeOwned>(
        &mut self,
        data: &T,
    ) -> Result<T, RedactError> {
        let original = serde_json::to_value(data).map_err(RedactError)?;
        self.learn(&original);
        let mut whole = original.clone();
        self.value(&mut whole);
        serde_json::from_value(whole).or_else(|_| {
            let mut strings = original;
            self.strings(&mut strings);
            serde_json::from_value(strings).map_err(RedactError)
        })
    }

    /// Replaces the secret values in every string of `value`, changing no type.
    fn strings(&self, value: &mut Value) {
        match value {
            Value::String(text) => *text = self.text(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.strings(item)),
            Value::Object(map) => map.values_mut().for_each(|item| self.strings(item)),
            _ => {}
        }
    }

    /// `text` with every known secret value and every secret query parameter redacted.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        self.query_parameters(&out)
    }

    /// Learns the secret values in `value`: those of fields and headers with a secret name,
    /// and of secret query parameters in its strings.
    fn learn(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map {
                    if self.is_secret_name(key) {
                        self.learn_secret(field);
                    } else {
                        self.learn(field);
                    }
                }
            }
            Value::Array(items) => {
                if let Some((name, field)) = header_pair(items) {
                    if self.is_secret_name(name) {
                        self.learn_secret(field);
                        return;
                    }
                }
                items.iter().for_each(|item| self.learn(item));
            }
            Value::String(text) => {
                for found in self.secret_parameters(text) {
                    self.secret(&found);
                }
            }
            _ => {}
        }
    }

    /// Learns the strings of `value` (the value of a secret field, or a list of them) as
    /// secrets, with the credentials inside `Bearer …` and the values of `name=value; …`
    /// cookies. Numbers and objects under a secret name are blanked where they are, but not
    /// searched for elsewhere: a table named `sessions` would otherwise blank every figure of
    /// its observation in every URL.
    fn learn_secret(&mut self, value: &Value) {
        match value {
            Value::String(text) => {
                self.secret(text);
                if let Some((_scheme, credentials)) = text.split_once(' ') {
                    self.secret(credentials.trim());
                }
                for pair in text.split(';') {
                    if let Some((_, cookie)) = pair.split_once('=') {
                        self.secret(cookie.trim());
                    }
                }
            }
            Value::Array(items) => items
                .iter()
                .filter(|item| item.is_string())
                .for_each(|item| self.learn_secret(item)),
            _ => {}
        }
    }

    /// Redacts `value` in place.
    fn value(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    if self.is_secret_name(key) && !field.is_null() {
                        *field = Value::String(REDACTED.into());
                    } else {
                        self.value(field);
                    }
                }
            }
            Value::Array(items) => {
                let secret_header = header_pair(items).is_some_and(|(n, _)| self.is_secret_name(n));
                if secret_header {
                    items[1] = Value::String(REDACTED.into());
                } else {
                    items.iter_mut().for_each(|item| self.value(item));
                }
            }
            Value::String(text) => *text = self.text(text),
            _ => {}
        }
    }

    /// The values of the secret query parameters (`?name=value`, `&name=value`) in `text`.
    fn secret_parameters(&self, text: &str) -> Vec<String> {
        self.parameters(text)
            .filter(|(name, _)| self.is_secret_name(&text[name.clone()]))
            .map(|(_, value)| text[value].to_string())
            .collect()
    }

    /// `text` with the values of its secret query parameters redacted.
    fn query_parameters(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (name, value) in self.parameters(text) {
            if self.is_secret_name(&text[name]) && !value.is_empty() {
                out.push_str(&text[copied..value.start]);
                out.push_str(REDACTED);
                copied = value.end;
            }
        }
        out.push_str(&text[copied..]);
        out
    }

    /// The byte ranges of each `name` and `value` of the `?name=value` / `&name=value` pairs
    /// in `text`.
    fn parameters<'t>(
        &self,
        text: &'t str,
    ) -> impl Iterator<Item = (std::ops::Range<usize>, std::ops::Range<usize>)> + 't {
        let bytes = text.as_bytes();
        let name_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
        let value_end = |b: u8| matches!(b, b'&' | b'#' | b' ' | b'"' | b'\'' | b'\n' | b')');
        (0..bytes.len())
            .filter(move |&i| matches!(bytes[i], b'?' | b'&'))
            .filter_map(move |i| {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && name_byte(bytes[end]) {
                    end += 1;
                }
                if end == start || bytes.get(end) != Some(&b'=') {
                    return None;
                }
                let value_start = end + 1;
                let mut value_stop = value_start;
                while value_stop < bytes.len() && !value_end(bytes[value_stop]) {
                    value_stop += 1;
                }
                Some((start..end, value_start..value_stop))
            })
    }
}

/// A header as reports write it, `["name", "value"]`.
fn header_pair(items: &[Value]) -> Option<(&str, &Value)> {
    match items {
        [Value::String(name), value @ Value::String(_)] => Some((name.as_str(), value)),
        _ => None,
    }
}

/// A name in lower case with `-` as `_`.
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redacted(value: Value) -> Value {
        let mut redactor = Redactor::new(["ssn"]);
        redactor.learn(&value);
        let mut out = value;
        redactor.value(&mut out);
        out
    }

    #[test]
    fn secret_headers_fields_and_parameters_are_redacted_and_their_values_everywhere() {
        let out = redacted(json!({
            "request": {
                "url": "http://h/orders?api_key=K-12345&page=2",
                "headers": [["authorization", "Bearer tok-abcdef"], ["accept", "*/*"]],
                "body": {"user": "bob", "password": "hunter22", "ssn": "123-45-6789"},
            },
            "context": {"access_token": "tok-abcdef", "order_id": 7},
            "message": "tok-abcdef was refused; K-12345 too; hunter22 as well",
        }));
        let text = out.to_string();
        for secret in ["tok-abcdef", "K-12345", "hunter22", "123-45-6789"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(
            out["request"]["url"],
            "http://h/orders?api_key=<redacted>&page=2"
        );
        assert_eq!(out["request"]["headers"][1], json!(["accept", "*/*"]));
        assert_eq!(out["request"]["body"]["user"], "bob");
        assert_eq!(out["context"]["order_id"], 7);
    }

    #[test]
    fn short_values_are_kept_in_free_text_but_not_in_secret_fields() {
        let out = redacted(json!({"pin_token": "ab", "message": "ab cd"}));
        assert_eq!(out["pin_token"], REDACTED);
        assert_eq!(out["message"], "ab cd");
    }

    #[test]
    fn values_given_as_secrets_are_redacted_in_text() {
        let mut redactor = Redactor::default();
        redactor.secret("from-the-env");
        assert_eq!(
            redactor.text("GET /x?q=from-the-env answered 500"),
            "GET /x?q=<redacted> answered 500"
        );
    }

    #[test]
    fn a_secret_named_field_that_must_stay_a_number_keeps_its_type() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Figures {
            token_count: u64,
            note: String,
        }
        let mut redactor = Redactor::default();
        redactor.secret("s3cr3t-value");
        let figures = Figures {
            token_count: 12,
            note: "saw s3cr3t-value".into(),
        };
        let out = redactor.redacted(&figures).expect("redacted");
        assert_eq!(
            out,
            Figures {
                token_count: 12,
                note: "saw <redacted>".into()
            }
        );
    }

    #[test]
    fn figures_under_a_secret_name_are_blanked_there_only() {
        let out = redacted(json!({
            "observation": {"sessions": {"rows": 1234, "hash": "ab12cd34"}},
            "url": "http://h/orders/1234",
        }));
        assert_eq!(out["observation"]["sessions"], REDACTED);
        assert_eq!(out["url"], "http://h/orders/1234");
    }
}
