//! The environment of the API server: venom's own variables for it (e.g. `VENOM_PROXY_URL`) and
//! the `[server].env` values, in which `${NAME}` is replaced by the variable `NAME`.

use crate::stores::PROXY_URL_VAR;
use std::collections::BTreeMap;

/// A `[server].env` value that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `${NAME}` names a variable that is not set.
    #[error("[server] env {key}: environment variable {name} is not set")]
    Unset {
        /// The `[server].env` key whose value references it.
        key: String,
        /// The variable.
        name: String,
    },
    /// `${VENOM_PROXY_URL}` without the transaction proxy.
    #[error(
        "[server] env {key}: ${{VENOM_PROXY_URL}} is only set when [rollback] uses mechanism = \
         \"proxy\" (with `venom explore`)"
    )]
    NoProxy {
        /// The `[server].env` key whose value references it.
        key: String,
    },
    /// A `${` without its `}`.
    #[error("[server] env {key}: `${{` without a closing `}}` in {value:?}")]
    Unclosed {
        /// The `[server].env` key.
        key: String,
        /// Its value.
        value: String,
    },
}

/// `extra`, then `env` with every `${NAME}` in its values replaced by `NAME`'s value, looked up
/// in `extra` first, then in venom's environment. Fails, naming the variable, when one is unset
/// or a `${` is not closed.
pub(crate) fn server_env(
    env: &BTreeMap<String, String>,
    extra: &[(String, String)],
) -> Result<Vec<(String, String)>, EnvError> {
    let lookup = |name: &str| {
        extra
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    };
    let mut out = extra.to_vec();
    for (key, value) in env {
        let expanded = expand(key, value, &lookup)?;
        out.push((key.clone(), expanded));
    }
    Ok(out)
}

fn expand(
    key: &str,
    value: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, EnvError> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(EnvError::Unclosed {
                key: key.to_string(),
                value: value.to_string(),
            });
        };
        let name = &after[..end];
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None if name == PROXY_URL_VAR => {
                return Err(EnvError::NoProxy {
                    key: key.to_string(),
                })
            }
            None => {
                return Err(EnvError::Unset {
                    key: key.to_string(),
                    name: name.to_string(),
                })
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_expanded_from_extra_then_the_environment() {
        let env = BTreeMap::from([
            ("DATABASE_URL".to_string(), "${VENOM_PROXY_URL}".to_string()),
            (
                "GREETING".to_string(),
                "a ${PATH_LIKE}-${PATH_LIKE} b $HOME".to_string(),
            ),
        ]);
        let extra = [
            (
                "VENOM_PROXY_URL".to_string(),
                "postgres://u@127.0.0.1:1/d".to_string(),
            ),
            ("PATH_LIKE".to_string(), "x".to_string()),
        ];
        let out = server_env(&env, &extra).unwrap();
        assert_eq!(out[0], extra[0]);
        assert!(out.contains(&("DATABASE_URL".into(), "postgres://u@127.0.0.1:1/d".into())));
        assert!(out.contains(&("GREETING".into(), "a x-x b $HOME".into())));
    }

    #[test]
    fn unset_variables_and_open_references_are_errors() {
        let env = |v: &str| BTreeMap::from([("K".to_string(), v.to_string())]);
        let err = server_env(&env("${VENOM_SURELY_UNSET_VAR}"), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[server] env K: environment variable VENOM_SURELY_UNSET_VAR is not set"
        );
        let err = server_env(&env("${VENOM_PROXY_URL}"), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("mechanism = \"proxy\""), "{err}");
        let err = server_env(&env("${OOPS"), &[]).unwrap_err().to_string();
        assert!(err.contains("without a closing"), "{err}");
    }
}
