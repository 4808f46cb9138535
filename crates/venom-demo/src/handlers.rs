//! The routes' handlers, each written once over [`Store`](crate::db::Store), planted bugs included.

use crate::db::*;
use crate::errors::*;
use axum::{
    extract::{rejection::JsonRejection, Path as UrlPath, State},
    http::HeaderMap,
    Json,
};
use serde_json::{json, Value};

pub(crate) async fn not_found_route() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

/// The API's own OpenAPI 3.0 document (`GET /openapi.json`).
pub(crate) async fn openapi_document() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

pub(crate) async fn health(State(state): State<Shared>) -> ApiResult {
    state
        .transaction(false, |db| {
            db.query_i64("SELECT CAST(1 AS BIGINT)", &[])?;
            ok(json!({ "status": "ok" }))
        })
        .await
}

pub(crate) async fn create_order(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let body = json_body(body)?;
    let amount = positive_int(&body, "amount")?;
    let currency = match body.get("currency") {
        None | Some(Value::Null) => "EUR".to_string(),
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        Some(_) => return Err(ApiError::BadRequest("`currency` must be a string".into())),
    };
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::BadRequest("invalid Idempotency-Key header".into()))?
                .to_string(),
        ),
    };

    state
        .transaction(true, move |db| {
            let Some(key) = key else {
                return created(insert_order(db, amount, &currency, None)?.to_json());
            };
            let seen = db.query_i64(
                "SELECT order_id FROM idempotency WHERE key = $1",
                &[Param::Text(Some(&key))],
            )?;
            if let Some(order_id) = seen {
                if let Some(order) = load_order(db, order_id)? {
                    // BUG 4: the replay "consumes" the key, so the next call creates a new order.
                    db.execute(
                        "DELETE FROM idempotency WHERE key = $1",
                        &[Param::Text(Some(&key))],
                    )?;
                    return ok(order.to_json());
                }
            }
            let order = insert_order(db, amount, &currency, Some(&key))?;
            db.execute(
                "INSERT INTO idempotency (key, order_id) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET order_id = excluded.order_id",
                &[Param::Text(Some(&key)), Param::Int(order.id)],
            )?;
            created(order.to_json())
        })
        .await
}

pub(crate) async fn list_orders(State(state): State<Shared>) -> ApiResult {
    state
        .transaction(false, |db| {
            let items: Vec<Value> = db
                .query_orders(
                    &format!("SELECT {ORDER_COLUMNS} FROM orders WHERE deleted = 0 ORDER BY id"),
                    &[],
                )?
                .iter()
                .map(Order::to_json)
                .collect();
            // BUG 3: the count forgets the `deleted = 0` filter.
            let total = db
                .query_i64("SELECT COUNT(*) FROM orders", &[])?
                .unwrap_or(0);
            ok(json!({ "items": items, "total": total }))
        })
        .await
}

pub(crate) async fn get_order(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(false, move |db| ok(live_order(db, id)?.to_json()))
        .await
}

pub(crate) async fn delete_order(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(true, move |db| {
            live_order(db, id)?;
            db.execute(
                "UPDATE orders SET deleted = 1 WHERE id = $1",
                &[Param::Int(id)],
            )?;
            ok(json!({ "id": id, "deleted": true }))
        })
        .await
}

pub(crate) async fn pay_order(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(true, move |db| {
            let order = live_order(db, id)?;
            match order.status.as_str() {
                "cancelled" => {
                    return Err(ApiError::Conflict(format!("order {id} is cancelled")));
                }
                "created" => {
                    db.execute(
                        "UPDATE orders SET paid = amount, status = 'paid' WHERE id = $1",
                        &[Param::Int(id)],
                    )?;
                }
                // BUG 5: an order that is already paid is charged again.
                _ => {
                    db.execute(
                        "UPDATE orders SET paid = paid + amount WHERE id = $1",
                        &[Param::Int(id)],
                    )?;
                }
            }
            ok(live_order(db, id)?.to_json())
        })
        .await
}

pub(crate) async fn refund_order(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<String>,
    body: Result<Json<Value>, JsonRejection>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let body = json_body(body);
    state
        .transaction(true, move |db| {
            let order = live_order(db, id)?;
            let body = body?;
            let amount = match body.get("amount").and_then(Value::as_i64) {
                Some(v) if v > 0 => v,
                _ => {
                    return Err(ApiError::Conflict(
                        "invalid refund: `amount` must be a positive integer".into(),
                    ))
                }
            };
            if !matches!(order.status.as_str(), "paid" | "partially_refunded") {
                return Err(ApiError::Conflict(format!(
                    "order {id} is {}, only paid orders can be refunded",
                    order.status
                )));
            }
            // BUG 1: checked against the order amount, not `amount - refunded`.
            if amount > order.amount {
                return Err(ApiError::Conflict(format!(
                    "invalid refund: {amount} exceeds the order amount {}",
                    order.amount
                )));
            }
            db.execute(
                "INSERT INTO refunds (order_id, amount) VALUES ($1, $2)",
                &[Param::Int(id), Param::Int(amount)],
            )?;
            let refunded = order.refunded + amount;
            let status = if refunded >= order.amount {
                "refunded"
            } else {
                "partially_refunded"
            };
            db.execute(
                "UPDATE orders SET refunded = $1, status = $2 WHERE id = $3",
                &[
                    Param::Int(refunded),
                    Param::Text(Some(status)),
                    Param::Int(id),
                ],
            )?;
            let mut answer = live_order(db, id)?.to_json();
            // BUG 7: the refund's answer writes `refunded` as a string; the document (and
            // every other answer) says integer.
            answer["refunded"] = json!(refunded.to_string());
            created(answer)
        })
        .await
}

/// How long the (simulated) payment provider takes to accept a refund.
const PROVIDER_DELAY: std::time::Duration = std::time::Duration::from_millis(20);

/// `POST /orders/{id}/refund-rest`: refunds what is left of a paid order. It reads the order,
/// asks the payment provider (simulated by a pause), then records the refund.
pub(crate) async fn refund_rest(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let order = state
        .transaction(false, move |db| live_order(db, id))
        .await?;
    if !matches!(order.status.as_str(), "paid" | "partially_refunded") {
        return Err(ApiError::Conflict(format!(
            "order {id} is {}, only paid orders can be refunded",
            order.status
        )));
    }
    let rest = order.amount - order.refunded;
    // BUG 8 (a race): what is left is read in one transaction and the refund written in
    // another, after the provider's answer, from what was read. In turn, the second call finds
    // the order refunded and answers 409; two calls at once both refund the rest.
    tokio::time::sleep(PROVIDER_DELAY).await;
    state
        .transaction(true, move |db| {
            db.execute(
                "INSERT INTO refunds (order_id, amount) VALUES ($1, $2)",
                &[Param::Int(id), Param::Int(rest)],
            )?;
            db.execute(
                "UPDATE orders SET refunded = refunded + $1, status = 'refunded' WHERE id = $2",
                &[Param::Int(rest), Param::Int(id)],
            )?;
            created(live_order(db, id)?.to_json())
        })
        .await
}

pub(crate) async fn cancel_order(
    State(state): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    state
        .transaction(true, move |db| {
            let order = live_order(db, id)?;
            let refunds = db
                .query_i64(
                    "SELECT COUNT(*) FROM refunds WHERE order_id = $1",
                    &[Param::Int(id)],
                )?
                .unwrap_or(0);
            if refunds > 0 {
                // BUG 2: this case was thought unreachable and is not handled.
                return Err(ApiError::Internal(format!(
                    "internal error: entered unreachable code: cancel of order {id} with {refunds} refund(s)"
                )));
            }
            match order.status.as_str() {
                "created" | "paid" => {
                    db.execute(
                        "UPDATE orders SET status = 'cancelled' WHERE id = $1",
                        &[Param::Int(id)],
                    )?;
                }
                "cancelled" => {
                    return Err(ApiError::Conflict(format!(
                        "order {id} is already cancelled"
                    )));
                }
                other => {
                    return Err(ApiError::Conflict(format!(
                        "order {id} is {other} and cannot be cancelled"
                    )));
                }
            }
            ok(live_order(db, id)?.to_json())
        })
        .await
}

pub(crate) async fn admin_reset(State(state): State<Shared>) -> ApiResult {
    state
        .transaction(true, |db| {
            db.reset()?;
            ok(json!({ "status": "ok" }))
        })
        .await
}
