//! The sessions of the scenario's roles: what each login left (its credential headers), when
//! it is dropped, and every credential issued (secrets to keep out of every output).

use std::collections::HashMap;
use venom_engine::{Context, Exchange};
use venom_scenario::{Credential, Relogin, RoleSpec};

/// The roles of a scenario and their open sessions. Its `Debug` shows no credential.
#[derive(Default)]
pub(crate) struct Sessions {
    roles: Vec<RoleSpec>,
    /// Role name → the headers its requests carry.
    open: HashMap<String, Vec<(String, String)>>,
    /// Every credential value a login answered, in order.
    issued: Vec<String>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open: Vec<&String> = self.open.keys().collect();
        f.debug_struct("Sessions")
            .field("roles", &self.roles.len())
            .field("open", &open)
            .finish_non_exhaustive()
    }
}

/// Why a role could not log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginFailed(pub String);

impl Sessions {
    /// The sessions of `roles`, none open.
    pub(crate) fn new(roles: &[RoleSpec]) -> Sessions {
        Sessions {
            roles: roles.to_vec(),
            ..Sessions::default()
        }
    }

    /// The role `name`.
    pub(crate) fn role(&self, name: &str) -> Option<&RoleSpec> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The headers of `name`'s open session, if it has one.
    pub(crate) fn headers(&self, name: &str) -> Option<&[(String, String)]> {
        self.open.get(name).map(Vec::as_slice)
    }

    /// Forgets `name`'s session: its next request logs in first.
    pub(crate) fn close(&mut self, name: &str) {
        self.open.remove(name);
    }

    /// Forgets the sessions of the roles that log in on every path, after the world went back
    /// to an earlier state.
    pub(crate) fn path_changed(&mut self) {
        let per_path: Vec<String> = self
            .roles
            .iter()
            .filter(|r| r.relogin == Relogin::PerPath)
            .map(|r| r.name.clone())
            .collect();
        for name in per_path {
            self.open.remove(&name);
        }
    }

    /// Opens `role`'s session from what its login left: the keys it extracted in `login_ctx`
    /// and the answers it got.
    pub(crate) fn open(
        &mut self,
        role: &RoleSpec,
        login_ctx: &Context,
        answers: &[Exchange],
    ) -> Result<&[(String, String)], LoginFailed> {
        // The secret itself, and the header value that carries it.
        let (secret, header, value) = match &role.credential {
            Credential::Bearer { key } => {
                let token = credential_value(role, login_ctx, key)?;
                let value = format!("Bearer {token}");
                (token, "authorization".to_string(), value)
            }
            Credential::Header { name, key } => {
                let token = credential_value(role, login_ctx, key)?;
                (token.clone(), name.clone(), token)
            }
            Credential::Cookies => {
                let jar = cookies(role, answers)?;
                (longest_cookie_value(&jar), "cookie".to_string(), jar)
            }
        };
        self.issued.push(secret);
        if value != self.issued[self.issued.len() - 1] {
            self.issued.push(value.clone());
        }
        let headers = self.open.entry(role.name.clone()).or_default();
        *headers = vec![(header, value)];
        Ok(headers)
    }

    /// Every credential value issued so far (to redact from every output).
    pub(crate) fn issued(&self) -> &[String] {
        &self.issued
    }
}

/// The value of login key `key` as the credential's text.
fn credential_value(
    role: &RoleSpec,
    login_ctx: &Context,
    key: &str,
) -> Result<String, LoginFailed> {
    match login_ctx.get(key) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(serde_json::Value::Null) | None => Err(LoginFailed(format!(
            "role `{}`: its login extracted no `{key}`",
            role.name
        ))),
        Some(other) => Ok(other.to_string()),
    }
}

/// The `Cookie` header for the cookies the login `answers` set.
fn cookies(role: &RoleSpec, answers: &[Exchange]) -> Result<String, LoginFailed> {
    let pairs: Vec<&str> = answers
        .iter()
        .filter_map(|e| e.response.as_ref())
        .flat_map(|r| r.headers.iter())
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.split(';').next())
        .map(str::trim)
        .filter(|pair| pair.contains('='))
        .collect();
    if pairs.is_empty() {
        return Err(LoginFailed(format!(
            "role `{}`: its login set no cookie",
            role.name
        )));
    }
    Ok(pairs.join("; "))
}

/// The part of a cookie jar that identifies it alone: its longest value, without its name.
fn longest_cookie_value(jar: &str) -> String {
    jar.split("; ")
        .filter_map(|pair| pair.split_once('=').map(|(_, v)| v))
        .max_by_key(|v| v.len())
        .unwrap_or(jar)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use venom_engine::{RequestRecord, ResponseRecord};

    fn role(credential: Credential, relogin: Relogin) -> RoleSpec {
        RoleSpec {
            name: "bob".into(),
            login: Vec::new(),
            credential,
            relogin,
        }
    }

    fn answer(headers: &[(&str, &str)]) -> Exchange {
        Exchange {
            request: RequestRecord {
                method: "POST".into(),
                url: "http://127.0.0.1/login".into(),
                headers: Vec::new(),
                body: None,
            },
            response: Some(ResponseRecord {
                status: 200,
                headers: headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                body: json!({}),
                ttfb_ms: 0.0,
                elapsed_ms: 0.0,
                truncated: false,
            }),
            error: None,
            together: None,
        }
    }

    #[test]
    fn a_bearer_session_carries_the_extracted_key_and_remembers_it_as_a_secret() {
        let bob = role(
            Credential::Bearer {
                key: "token".into(),
            },
            Relogin::OnUnauthorized,
        );
        let mut sessions = Sessions::new(std::slice::from_ref(&bob));
        let mut ctx = Context::new();
        ctx.set("token", "tok_123456");
        let headers = sessions.open(&bob, &ctx, &[]).unwrap().to_vec();
        assert_eq!(
            headers,
            vec![("authorization".into(), "Bearer tok_123456".into())]
        );
        assert_eq!(
            sessions.issued(),
            ["tok_123456", "Bearer tok_123456"],
            "the token alone is a secret"
        );
        assert!(
            !format!("{sessions:?}").contains("tok_123456"),
            "Debug shows no credential"
        );
        sessions.path_changed();
        assert!(
            sessions.headers("bob").is_some(),
            "on_401 sessions survive a rollback"
        );
        let missing = sessions.open(&bob, &Context::new(), &[]).unwrap_err();
        assert_eq!(missing.0, "role `bob`: its login extracted no `token`");
    }

    #[test]
    fn a_cookie_session_sends_back_what_the_login_set_and_per_path_sessions_end_with_the_path() {
        let bob = role(Credential::Cookies, Relogin::PerPath);
        let mut sessions = Sessions::new(std::slice::from_ref(&bob));
        let answers = [answer(&[
            ("set-cookie", "sid=abcdef123; Path=/; HttpOnly"),
            ("Set-Cookie", "theme=dark"),
        ])];
        let headers = sessions
            .open(&bob, &Context::new(), &answers)
            .unwrap()
            .to_vec();
        assert_eq!(
            headers,
            vec![("cookie".into(), "sid=abcdef123; theme=dark".into())]
        );
        assert!(sessions.issued().contains(&"abcdef123".to_string()));
        sessions.path_changed();
        assert!(sessions.headers("bob").is_none());
        assert!(sessions.open(&bob, &Context::new(), &[]).is_err());
    }
}
