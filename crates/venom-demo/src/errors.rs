//! The API's errors and the small helpers that read requests and write answers.

use axum::{
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

#[derive(Debug)]
pub(crate) enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    NotFound(String),
    Conflict(String),
    Internal(String),
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> Self {
        ApiError::Internal(format!("database error: {e}"))
    }
}

impl From<postgres::Error> for ApiError {
    fn from(e: postgres::Error) -> Self {
        ApiError::Internal(format!("database error: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

pub(crate) type ApiResult = Result<(StatusCode, Json<Value>), ApiError>;

pub(crate) fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(value)))
}

pub(crate) fn created(value: Value) -> ApiResult {
    Ok((StatusCode::CREATED, Json(value)))
}

/// Parses a path id; anything that is not an integer names no order (404).
pub(crate) fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::NotFound(format!("order {raw} not found")))
}

pub(crate) fn json_body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {}", e.body_text())))
}

/// A positive integer `field` of `body`.
pub(crate) fn positive_int(body: &Value, field: &str) -> Result<i64, ApiError> {
    match body.get(field).and_then(Value::as_i64) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(ApiError::BadRequest(format!(
            "`{field}` must be a positive integer"
        ))),
    }
}
