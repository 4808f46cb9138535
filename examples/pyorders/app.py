#!/usr/bin/env python3
"""pyorders: ticket orders for events, a small HTTP API in Python on PostgreSQL.

It is venom's second demo target, written the way an ordinary Python service is written and
knowing nothing about venom: the standard library's HTTP server, psycopg 3 with its connection
pool, explicit transactions, server-side prepared statements. venom explores it either with
database snapshots or through its transaction proxy (examples/pyorders/scenario.toml); the app
is the same in both cases, only its DATABASE_URL differs.

    pip install -r requirements.txt
    DATABASE_URL=postgres://user@127.0.0.1:5432/pyorders python3 app.py --port 8081

Environment: DATABASE_URL (required), PORT (default 8081, or `--port N`), POOL_SIZE (default 4).

The API (JSON in, JSON out):

    GET    /health               200 once the database answers
    POST   /admin/reset          empties every table, ids restart at 1, seeds the event `concert`
    GET    /events/{id}          the event, its cached `sold` counter and all its orders
    POST   /orders               {"event": "concert", "buyer": "alice"} -> 201 order, 409 sold out
    GET    /orders/{id}          the order with the total `refunded` to it
    POST   /orders/{id}/cancel   frees the seat and refunds what was paid; 409 unless active
    POST   /orders/{id}/rebook   re-activates a cancelled order; 409 unless cancelled
    DELETE /orders/{id}          removes the order (a clean-up operation)

It has four planted bugs, each visible only after a certain sequence of calls (see the
`BUG` comments and the header of scenario.toml for their shortest paths):

  1. `rebook` does not check the capacity: cancel, another buyer takes the seat, rebook ->
     the event is overbooked.
  2. `rebook` does not charge again: cancel (refund), rebook, cancel -> refunded twice.
  3. `delete` does not update the event's cached `sold` counter.
  4. `delete` of an order that has a refund answers 500 (foreign key violation).
"""

import json
import logging
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

log = logging.getLogger("pyorders")

# One statement per string: with prepared statements every statement is parsed on its own.
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS events (
        id       text PRIMARY KEY,
        capacity integer NOT NULL,
        price    integer NOT NULL,
        sold     integer NOT NULL DEFAULT 0   -- cached count of the active orders
    )""",
    """CREATE TABLE IF NOT EXISTS orders (
        id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event  text NOT NULL REFERENCES events (id),
        buyer  text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'cancelled')),
        paid   integer NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS refunds (
        id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        order_id integer NOT NULL REFERENCES orders (id),
        amount   integer NOT NULL
    )""",
]

ORDER_SQL = """
    SELECT o.id, o.event, o.buyer, o.status, o.paid,
           coalesce((SELECT sum(r.amount) FROM refunds r WHERE r.order_id = o.id), 0)::integer
               AS refunded
    FROM orders o WHERE o.id = %s
"""


class HttpError(Exception):
    """An answer other than 2xx, raised from inside a transaction so that it rolls back."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def make_pool(url, size):
    # prepare_threshold=0: every statement becomes a named server-side prepared statement
    # (extended query protocol) from its first execution on; after a ROLLBACK psycopg drops
    # them all with `DEALLOCATE ALL`, as it always does. `check` verifies a connection before
    # handing it out, so the pool survives connections closed by the server.
    pool = ConnectionPool(
        url,
        min_size=2,
        max_size=size,
        kwargs={"prepare_threshold": 0, "row_factory": dict_row},
        check=ConnectionPool.check_connection,
        open=True,
    )
    pool.wait(timeout=30)
    return pool


def create_schema(pool):
    with pool.connection() as conn, conn.transaction():
        for statement in SCHEMA:
            conn.execute(statement)


# ------------------------------------------------------------------------------------------
# Handlers: each gets a connection and the request, returns (status, body) or raises HttpError.


def reset(conn, _body):
    with conn.transaction():
        conn.execute("TRUNCATE refunds, orders, events RESTART IDENTITY")
        conn.execute("INSERT INTO events (id, capacity, price) VALUES ('concert', 1, 50)")
    return 200, {"reset": True}


def get_event(conn, _body, event_id):
    event = conn.execute(
        "SELECT id, capacity, price, sold FROM events WHERE id = %s", (event_id,)
    ).fetchone()
    if event is None:
        raise HttpError(404, f"no event {event_id}")
    event["available"] = event["capacity"] - event["sold"]
    event["orders"] = conn.execute(
        "SELECT id, buyer, status FROM orders WHERE event = %s ORDER BY id", (event_id,)
    ).fetchall()
    return 200, event


def load_order(conn, order_id):
    order = conn.execute(ORDER_SQL, (order_id,)).fetchone()
    if order is None:
        raise HttpError(404, f"no order {order_id}")
    return order


def create_order(conn, body):
    event_id, buyer = body.get("event"), body.get("buyer")
    if not isinstance(event_id, str) or not isinstance(buyer, str):
        raise HttpError(400, "`event` and `buyer` are required strings")
    with conn.transaction():
        event = conn.execute(
            "SELECT capacity, price, sold FROM events WHERE id = %s FOR UPDATE", (event_id,)
        ).fetchone()
        if event is None:
            raise HttpError(404, f"no event {event_id}")
        if event["sold"] >= event["capacity"]:
            raise HttpError(409, f"event {event_id} is sold out")
        row = conn.execute(
            "INSERT INTO orders (event, buyer, status, paid) VALUES (%s, %s, 'active', %s) "
            "RETURNING id",
            (event_id, buyer, event["price"]),
        ).fetchone()
        conn.execute("UPDATE events SET sold = sold + 1 WHERE id = %s", (event_id,))
        return 201, load_order(conn, row["id"])


def get_order(conn, _body, order_id):
    return 200, load_order(conn, order_id)


def cancel_order(conn, _body, order_id):
    with conn.transaction():
        order = load_order(conn, order_id)
        if order["status"] != "active":
            raise HttpError(409, f"order {order_id} is {order['status']}")
        conn.execute("UPDATE orders SET status = 'cancelled' WHERE id = %s", (order_id,))
        conn.execute("UPDATE events SET sold = sold - 1 WHERE id = %s", (order["event"],))
        conn.execute(
            "INSERT INTO refunds (order_id, amount) VALUES (%s, %s)", (order_id, order["paid"])
        )
        return 200, load_order(conn, order_id)


def rebook_order(conn, _body, order_id):
    with conn.transaction():
        order = load_order(conn, order_id)
        if order["status"] != "cancelled":
            raise HttpError(409, f"order {order_id} is {order['status']}")
        # BUG (overbooking): unlike create_order, no capacity check: the seat may have been
        # sold to someone else since the cancellation.
        # BUG (double refund): the cancellation refunded `paid`, but rebooking neither charges
        # the price again nor takes the refund back, so a second cancel refunds again.
        conn.execute("UPDATE orders SET status = 'active' WHERE id = %s", (order_id,))
        conn.execute("UPDATE events SET sold = sold + 1 WHERE id = %s", (order["event"],))
        return 200, load_order(conn, order_id)


def delete_order(conn, _body, order_id):
    with conn.transaction():
        order = load_order(conn, order_id)
        # BUG (stale counter): deleting an active order should give its seat back
        # (`UPDATE events SET sold = sold - 1`); the cached counter keeps counting it.
        # BUG (500): the order's refunds still reference it, so deleting a cancelled order
        # fails with a foreign key violation, answered as 500.
        conn.execute("DELETE FROM orders WHERE id = %s", (order_id,))
        return 200, {"deleted": order["id"]}


ROUTES = [
    ("GET", r"/health", lambda conn, body: (200, conn.execute("SELECT 1 AS ok").fetchone())),
    ("POST", r"/admin/reset", reset),
    ("GET", r"/events/([A-Za-z0-9_-]+)", get_event),
    ("POST", r"/orders", create_order),
    ("GET", r"/orders/(\d+)", get_order),
    ("POST", r"/orders/(\d+)/cancel", cancel_order),
    ("POST", r"/orders/(\d+)/rebook", rebook_order),
    ("DELETE", r"/orders/(\d+)", delete_order),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: venom reuses its connections
    pool = None  # set in main()

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        path = self.path.split("?", 1)[0]
        try:
            body = self.read_body()
            for route_method, pattern, handler in ROUTES:
                match = re.fullmatch(pattern, path)
                if match and route_method == method:
                    args = [int(a) if a.isdigit() else a for a in match.groups()]
                    # The block commits when the handler returns and rolls back when it raises.
                    with self.pool.connection() as conn:
                        status, answer = handler(conn, body, *args)
                    break
            else:
                status, answer = 404, {"error": f"no route {method} {path}"}
        except HttpError as e:
            status, answer = e.status, {"error": e.message}
        except Exception as e:  # an unexpected error: what a real framework answers as 500
            log.exception("%s %s failed", method, path)
            status, answer = 500, {"error": f"{type(e).__name__}: {e}"}
        self.send_json(status, answer)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length == 0:
            return {}
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError as e:
            raise HttpError(400, f"invalid JSON: {e}") from e
        if not isinstance(body, dict):
            raise HttpError(400, "the body must be a JSON object")
        return body

    def send_json(self, status, answer):
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        log.info("%s %s", self.address_string(), fmt % args)


def main():
    logging.basicConfig(level=logging.INFO, format="pyorders %(levelname)s %(message)s")
    port = int(os.environ.get("PORT", "8081"))
    if len(sys.argv) == 3 and sys.argv[1] == "--port":
        port = int(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.exit("usage: app.py [--port N]")
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is not set")
    Handler.pool = make_pool(url, int(os.environ.get("POOL_SIZE", "4")))
    create_schema(Handler.pool)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    log.info("listening on http://127.0.0.1:%d", port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        Handler.pool.close()


if __name__ == "__main__":
    main()
