//! Users, sessions and private notes: the routes a multi-user scenario needs, with one planted
//! cross-user bug.

use crate::db::{Param, Shared, Store};
use crate::errors::*;
use axum::{
    extract::{rejection::JsonRejection, Path as UrlPath, State},
    http::{header, HeaderMap},
    response::IntoResponse,
    Json,
};
use serde_json::{json, Value};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// `POST /users {name, password}`: registers a user (409 when the name is taken).
pub(crate) async fn register(
    State(state): State<Shared>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let body = json_body(body)?;
    let name = text_field(&body, "name")?;
    let password = text_field(&body, "password")?;
    state
        .transaction(true, move |db| {
            if user_exists(db, &name)? {
                return Err(ApiError::Conflict(format!("user {name} already exists")));
            }
            db.execute(
                "INSERT INTO users (name, password) VALUES ($1, $2)",
                &[Param::Text(Some(&name)), Param::Text(Some(&password))],
            )?;
            created(json!({ "name": name }))
        })
        .await
}

/// `POST /login {name, password}`: a new session token, in the body and as the `session`
/// cookie (401 for a wrong name or password).
pub(crate) async fn login(
    State(state): State<Shared>,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let body = json_body(body)?;
    let name = text_field(&body, "name")?;
    let password = text_field(&body, "password")?;
    state
        .transaction(true, move |db| {
            let known = db.query_texts(
                "SELECT name FROM users WHERE name = $1 AND password = $2",
                &[Param::Text(Some(&name)), Param::Text(Some(&password))],
            )?;
            if known.is_empty() {
                return Err(ApiError::Unauthorized("wrong name or password".into()));
            }
            let token = new_token(&name);
            db.execute(
                "INSERT INTO sessions (token, user_name) VALUES ($1, $2)",
                &[Param::Text(Some(&token)), Param::Text(Some(&name))],
            )?;
            let cookie = format!("session={token}; Path=/; HttpOnly");
            Ok((
                [(header::SET_COOKIE, cookie)],
                Json(json!({ "token": token })),
            ))
        })
        .await
}

/// `POST /notes {text}`: a private note of the signed-in user.
pub(crate) async fn create_note(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let token = bearer(&headers)?;
    let body = json_body(body)?;
    let text = text_field(&body, "text")?;
    state
        .transaction(true, move |db| {
            let owner = signed_in(db, &token)?;
            let id = db
                .query_i64(
                    "INSERT INTO notes (owner, text) VALUES ($1, $2) RETURNING id",
                    &[Param::Text(Some(&owner)), Param::Text(Some(&text))],
                )?
                .ok_or_else(|| ApiError::Internal("the insert returned no id".into()))?;
            created(json!({ "id": id, "owner": owner, "text": text }))
        })
        .await
}

/// `GET /notes`: the signed-in user's notes.
pub(crate) async fn list_notes(State(state): State<Shared>, headers: HeaderMap) -> ApiResult {
    let token = bearer(&headers)?;
    state
        .transaction(false, move |db| {
            let owner = signed_in(db, &token)?;
            let rows = db.query_texts(
                "SELECT CAST(id AS TEXT), owner, text FROM notes WHERE owner = $1 ORDER BY id",
                &[Param::Text(Some(&owner))],
            )?;
            let items: Vec<Value> = rows.iter().map(|row| note_json(row)).collect();
            ok(json!({ "items": items }))
        })
        .await
}

/// `GET /notes/{id}`: one of the signed-in user's notes (404 for anyone else's).
pub(crate) async fn get_note(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> ApiResult {
    let token = bearer(&headers)?;
    let id = note_id(&id)?;
    state
        .transaction(false, move |db| {
            let user = signed_in(db, &token)?;
            let note = load_note(db, id)?.filter(|row| row[1] == user);
            match note {
                Some(row) => ok(note_json(&row)),
                None => Err(ApiError::NotFound(format!("note {id} not found"))),
            }
        })
        .await
}

/// `PUT /notes/{id} {text}`: changes the text of one of the signed-in user's notes.
pub(crate) async fn update_note(
    State(state): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let token = bearer(&headers)?;
    let id = note_id(&id)?;
    let body = json_body(body)?;
    let text = text_field(&body, "text")?;
    state
        .transaction(true, move |db| {
            let _user = signed_in(db, &token)?;
            // BUG 6: the note is looked up by id alone, so any signed-in user can change anyone's.
            if load_note(db, id)?.is_none() {
                return Err(ApiError::NotFound(format!("note {id} not found")));
            }
            db.execute(
                "UPDATE notes SET text = $1 WHERE id = $2",
                &[Param::Text(Some(&text)), Param::Int(id)],
            )?;
            let row = load_note(db, id)?
                .ok_or_else(|| ApiError::Internal("updated note vanished".into()))?;
            ok(note_json(&row))
        })
        .await
}

fn user_exists(db: &mut dyn Store, name: &str) -> Result<bool, ApiError> {
    let rows = db.query_texts(
        "SELECT name FROM users WHERE name = $1",
        &[Param::Text(Some(name))],
    )?;
    Ok(!rows.is_empty())
}

/// The user whose session `token` is, or 401.
fn signed_in(db: &mut dyn Store, token: &str) -> Result<String, ApiError> {
    let rows = db.query_texts(
        "SELECT user_name FROM sessions WHERE token = $1",
        &[Param::Text(Some(token))],
    )?;
    rows.into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .ok_or_else(|| ApiError::Unauthorized("invalid or expired session".into()))
}

/// The note `id` as `[id, owner, text]`, whoever owns it.
fn load_note(db: &mut dyn Store, id: i64) -> Result<Option<Vec<String>>, ApiError> {
    let rows = db.query_texts(
        "SELECT CAST(id AS TEXT), owner, text FROM notes WHERE id = $1",
        &[Param::Int(id)],
    )?;
    Ok(rows.into_iter().next())
}

fn note_json(row: &[String]) -> Value {
    json!({
        "id": row[0].parse::<i64>().unwrap_or_default(),
        "owner": row[1],
        "text": row[2],
    })
}

fn note_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("note {raw} not found")))
}

/// The session token of `Authorization: Bearer TOKEN`, or of the `session` cookie; else 401.
fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let from_cookie = || {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("session="))
    };
    from_header
        .or_else(from_cookie)
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::Unauthorized("missing `Authorization: Bearer` token or session cookie".into())
        })
}

/// A non-empty string `field` of `body`.
fn text_field(body: &Value, field: &str) -> Result<String, ApiError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ApiError::BadRequest(format!(
            "`{field}` must be a non-empty string"
        ))),
    }
}

/// A session token no one can guess from earlier ones: a per-process random hash of the user,
/// a counter and the time.
fn new_token(name: &str) -> String {
    static ISSUED: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(name.as_bytes());
    hasher.write_u64(ISSUED.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    format!("tok_{:016x}", hasher.finish())
}
