//! Real HTTP tests against `DemoServer`: the planted bugs, the correct behaviour around them, and
//! restoring the SQLite file in place while the server runs.

use reqwest::{Client, StatusCode};
use rusqlite::{backup::Backup, Connection};
use serde_json::{json, Value};
use std::time::Duration;
use venom_demo::{DemoServer, DEMO_SCENARIO};

struct Api {
    client: Client,
    base: String,
}

impl Api {
    fn new(server: &DemoServer) -> Self {
        Api {
            client: Client::new(),
            base: server.base_url(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.expect("request failed");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    async fn post_empty(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)))
            .await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(format!("{}{path}", self.base)))
            .await
    }

    async fn create(&self, amount: i64) -> i64 {
        let (status, body) = self.post("/orders", json!({ "amount": amount })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().expect("id")
    }

    async fn create_idempotent(&self, key: &str) -> (StatusCode, Value) {
        self.send(
            self.client
                .post(format!("{}/orders", self.base))
                .header("Idempotency-Key", key)
                .json(&json!({ "amount": 100 })),
        )
        .await
    }
}

fn start() -> (tempfile::TempDir, DemoServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = DemoServer::start(&dir.path().join("demo.db")).unwrap();
    (dir, server)
}

#[tokio::test]
async fn health_and_order_lifecycle() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    assert_eq!(api.get("/health").await.0, StatusCode::OK);

    let (status, order) = api
        .post("/orders", json!({ "amount": 100, "currency": "USD" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(order["id"], 1);
    assert_eq!(order["amount"], 100);
    assert_eq!(order["currency"], "USD");
    assert_eq!(order["paid"], 0);
    assert_eq!(order["refunded"], 0);
    assert_eq!(order["status"], "created");
    assert_eq!(order["idempotency_key"], Value::Null);

    let (status, got) = api.get("/orders/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, order);

    let (status, paid) = api.post_empty("/orders/1/pay").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["paid"], 100);

    // Unknown ids, bad ids and unknown routes are 404 with a JSON body.
    assert_eq!(api.get("/orders/99").await.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/orders/abc").await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        api.post_empty("/orders/99/pay").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post_empty("/orders/99/cancel").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post("/orders/99/refunds", json!({ "amount": 1 }))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(api.delete("/orders/99").await.0, StatusCode::NOT_FOUND);
    let (status, body) = api.get("/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());

    // Invalid creation requests are 400.
    assert_eq!(
        api.post("/orders", json!({ "amount": -5 })).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.post("/orders", json!({ "currency": "EUR" })).await.0,
        StatusCode::BAD_REQUEST
    );
    server.shutdown();
}

#[tokio::test]
async fn refunds_behave_where_correct() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let id = api.create(100).await;

    // Refund of an unpaid order: 409.
    let (status, body) = api
        .post(&format!("/orders/{id}/refunds"), json!({ "amount": 10 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"].is_string());

    api.post_empty(&format!("/orders/{id}/pay")).await;
    // More than the amount, zero and negative: 409.
    for amount in [101, 0, -1] {
        let (status, _) = api
            .post(
                &format!("/orders/{id}/refunds"),
                json!({ "amount": amount }),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "amount {amount}");
    }
    // A single partial refund, then the rest.
    let (status, body) = api
        .post(&format!("/orders/{id}/refunds"), json!({ "amount": 60 }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["status"], "partially_refunded");
    // BUG 7 (planted): the refund's answer writes `refunded` as a string; the order says 60.
    assert_eq!(body["refunded"], "60");
    let (_, order) = api.get(&format!("/orders/{id}")).await;
    assert_eq!(order["refunded"], 60);
    let (status, body) = api
        .post(&format!("/orders/{id}/refunds"), json!({ "amount": 40 }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["status"], "refunded");
    assert_eq!(body["refunded"], "100");
    // Fully refunded: no more refunds.
    let (status, _) = api
        .post(&format!("/orders/{id}/refunds"), json!({ "amount": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn cancel_behaves_where_correct() {
    let (_dir, server) = start();
    let api = Api::new(&server);

    // Cancel a created order, then it can be neither paid, refunded nor cancelled again.
    let a = api.create(100).await;
    let (status, body) = api.post_empty(&format!("/orders/{a}/cancel")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "cancelled");
    assert_eq!(
        api.post_empty(&format!("/orders/{a}/pay")).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.post(&format!("/orders/{a}/refunds"), json!({ "amount": 10 }))
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        api.post_empty(&format!("/orders/{a}/cancel")).await.0,
        StatusCode::CONFLICT
    );

    // Cancel a paid order without refunds.
    let b = api.create(100).await;
    api.post_empty(&format!("/orders/{b}/pay")).await;
    let (status, body) = api.post_empty(&format!("/orders/{b}/cancel")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "cancelled");
}

#[tokio::test]
async fn bug1_over_refund() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let id = api.create(100).await;
    api.post_empty(&format!("/orders/{id}/pay")).await;
    let first = api
        .post(&format!("/orders/{id}/refunds"), json!({ "amount": 60 }))
        .await;
    assert_eq!(first.0, StatusCode::CREATED);
    let second = api
        .post(&format!("/orders/{id}/refunds"), json!({ "amount": 60 }))
        .await;
    assert_eq!(second.0, StatusCode::CREATED);
    let (_, order) = api.get(&format!("/orders/{id}")).await;
    assert_eq!(order["refunded"], 120);
    assert!(order["refunded"].as_i64() > order["amount"].as_i64());
}

#[tokio::test]
async fn bug2_cancel_after_refund_is_500() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let id = api.create(100).await;
    api.post_empty(&format!("/orders/{id}/pay")).await;
    api.post(&format!("/orders/{id}/refunds"), json!({ "amount": 60 }))
        .await;
    let (status, body) = api.post_empty(&format!("/orders/{id}/cancel")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body["error"].is_string());
    // The server survives.
    assert_eq!(api.get("/health").await.0, StatusCode::OK);
    assert_eq!(api.get(&format!("/orders/{id}")).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bug3_deleted_order_still_counted() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let (_, list) = api.get("/orders").await;
    assert_eq!(list, json!({ "items": [], "total": 0 }));

    let id = api.create(100).await;
    let (status, _) = api.delete(&format!("/orders/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    // The deleted order is gone for every per-order endpoint.
    assert_eq!(
        api.get(&format!("/orders/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.post_empty(&format!("/orders/{id}/pay")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.delete(&format!("/orders/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = api.get("/orders").await;
    assert_eq!(list["items"], json!([]));
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn bug4_idempotency_key_honoured_once() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let (status, first) = api.create_idempotent("demo-key").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["idempotency_key"], "demo-key");
    let (status, second) = api.create_idempotent("demo-key").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["id"], first["id"]);
    let (_, list) = api.get("/orders").await;
    assert_eq!(list["total"], 1);

    let (status, third) = api.create_idempotent("demo-key").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(third["id"], first["id"]);
    let (_, list) = api.get("/orders").await;
    let same_key = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["idempotency_key"] == "demo-key")
        .count();
    assert_eq!(same_key, 2);
}

#[tokio::test]
async fn bug5_double_pay() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let id = api.create(100).await;
    assert_eq!(
        api.post_empty(&format!("/orders/{id}/pay")).await.0,
        StatusCode::OK
    );
    let (status, order) = api.post_empty(&format!("/orders/{id}/pay")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["paid"], 200);
    assert_eq!(order["status"], "paid");
}

#[tokio::test]
async fn reset_restarts_ids_at_one() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let a = api.create(100).await;
    api.post_empty(&format!("/orders/{a}/pay")).await;
    api.post(&format!("/orders/{a}/refunds"), json!({ "amount": 10 }))
        .await;
    api.create_idempotent("k").await;
    assert_eq!(api.create(5).await, 3);

    let (status, _) = api.post_empty("/admin/reset").await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = api.get("/orders").await;
    assert_eq!(list, json!({ "items": [], "total": 0 }));
    assert_eq!(api.create(100).await, 1);
    // The idempotency record is gone too.
    assert_eq!(api.create_idempotent("k").await.0, StatusCode::CREATED);

    let conn = Connection::open(&server.db_path).unwrap();
    let refunds: i64 = conn
        .query_row("SELECT COUNT(*) FROM refunds", [], |r| r.get(0))
        .unwrap();
    assert_eq!(refunds, 0);
}

#[tokio::test]
async fn start_gives_fresh_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    {
        let server = DemoServer::start(&db).unwrap();
        let api = Api::new(&server);
        api.create(100).await;
        api.create(100).await;
        server.shutdown();
    }
    let server = DemoServer::start(&db).unwrap();
    let api = Api::new(&server);
    let (_, list) = api.get("/orders").await;
    assert_eq!(list["total"], 0);
    assert_eq!(api.create(100).await, 1);
}

/// Snapshot the file, change the data, restore the snapshot in place with the backup API while
/// the server keeps its connection: the server must answer from the restored file.
#[tokio::test]
async fn restore_in_place_is_seen_by_running_server() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let first = api.create(100).await;

    let mut file_conn = Connection::open(&server.db_path).unwrap();
    file_conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut mem = Connection::open_in_memory().unwrap();
    Backup::new(&file_conn, &mut mem)
        .unwrap()
        .run_to_completion(i32::MAX, Duration::ZERO, None)
        .unwrap();

    let second = api.create(100).await;
    api.post_empty(&format!("/orders/{first}/pay")).await;
    api.post_empty(&format!("/orders/{second}/pay")).await;
    let (_, list) = api.get("/orders").await;
    assert_eq!(list["total"], 2);

    Backup::new(&mem, &mut file_conn)
        .unwrap()
        .run_to_completion(i32::MAX, Duration::ZERO, None)
        .unwrap();

    let (_, list) = api.get("/orders").await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, order) = api.get(&format!("/orders/{first}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order["status"], "created");
    assert_eq!(order["paid"], 0);
    assert_eq!(
        api.get(&format!("/orders/{second}")).await.0,
        StatusCode::NOT_FOUND
    );
    // The AUTOINCREMENT counter was restored too: the next order gets the second id again.
    assert_eq!(api.create(100).await, second);

    // Writes after the restore go to the file and survive another restore cycle.
    Backup::new(&mem, &mut file_conn)
        .unwrap()
        .run_to_completion(i32::MAX, Duration::ZERO, None)
        .unwrap();
    let (_, list) = api.get("/orders").await;
    assert_eq!(list["total"], 1);
}

#[test]
fn demo_scenario_is_valid_toml_with_the_expected_actions() {
    let doc: toml::Table = toml::from_str(DEMO_SCENARIO).expect("demo.toml parses");
    let names: Vec<&str> = doc["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "create_order",
            "create_order_idempotent",
            "pay",
            "refund_partial",
            "cancel",
            "delete_order",
            "list_orders"
        ]
    );
    let invariants: Vec<&str> = doc["invariants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        invariants,
        [
            "refund_within_amount",
            "paid_within_amount",
            "list_total_matches_items",
            "one_order_per_idempotency_key"
        ]
    );
    assert_eq!(doc["rollback"]["mode"].as_str(), Some("sqlite"));
}

/// Registers `name` and logs it in: its session token.
async fn sign_in(api: &Api, name: &str) -> String {
    let user = json!({ "name": name, "password": "pw-1234" });
    let (status, body) = api.post("/users", user.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, again) = api.post("/users", user.clone()).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a name is taken once: {again}"
    );
    let wrong = json!({ "name": name, "password": "nope" });
    assert_eq!(api.post("/login", wrong).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = api.post("/login", user).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().expect("token").to_string()
}

#[tokio::test]
async fn notes_are_private_to_read_but_anyone_signed_in_can_change_them() {
    let (_dir, server) = start();
    let api = Api::new(&server);
    let alice = sign_in(&api, "alice").await;
    let bob = sign_in(&api, "bob").await;
    assert_ne!(alice, bob);
    let url = |path: &str| format!("{}{path}", api.base);

    let anonymous = api.post("/notes", json!({ "text": "x" })).await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED, "{}", anonymous.1);
    let (status, note) = api
        .send(
            api.client
                .post(url("/notes"))
                .bearer_auth(&alice)
                .json(&json!({ "text": "mine" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["owner"], "alice");
    let id = note["id"].as_i64().unwrap();

    // Reading is refused to anyone else, and each list holds its owner's notes only.
    let (status, _) = api
        .send(
            api.client
                .get(url(&format!("/notes/{id}")))
                .bearer_auth(&bob),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, bobs) = api
        .send(api.client.get(url("/notes")).bearer_auth(&bob))
        .await;
    assert_eq!(bobs["items"], json!([]));
    // The session cookie the login set works like the bearer token.
    let (status, own) = api
        .send(
            api.client
                .get(url(&format!("/notes/{id}")))
                .header("cookie", format!("session={alice}")),
        )
        .await;
    assert_eq!(
        (status, own["text"].clone()),
        (StatusCode::OK, json!("mine"))
    );

    // BUG 6: bob changes alice's note.
    let (status, changed) = api
        .send(
            api.client
                .put(url(&format!("/notes/{id}")))
                .bearer_auth(&bob)
                .json(&json!({ "text": "bob was here" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (_, after) = api
        .send(
            api.client
                .get(url(&format!("/notes/{id}")))
                .bearer_auth(&alice),
        )
        .await;
    assert_eq!(after["text"], "bob was here");

    // A reset ends every session.
    assert_eq!(api.post_empty("/admin/reset").await.0, StatusCode::OK);
    let (status, _) = api
        .send(api.client.get(url("/notes")).bearer_auth(&alice))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
