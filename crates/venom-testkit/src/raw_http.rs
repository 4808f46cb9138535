//! A hand-written HTTP/1.1 server that misbehaves on demand: it closes idle connections after
//! 1 s, answers garbage, truncates bodies or closes without answering, and can be stopped so
//! that nothing listens any more.

/// What a [`RawServer`] does with a request it read.
pub enum Reply {
    /// Writes these bytes and keeps the connection open for the next request.
    Send(Vec<u8>),
    /// Writes these bytes, then closes the connection.
    SendThenClose(Vec<u8>),
    /// Never answers: holds the connection open until the server stops.
    Stall,
}

/// A complete `200 OK` answer with `body`, keeping the connection alive.
pub fn ok_reply(body: &str) -> Reply {
    Reply::Send(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A hand-written HTTP/1.1 server on 127.0.0.1 that misbehaves on demand: `reply(n, path)`
/// decides what the `n`-th request (from 0) on a connection gets. Idle connections are closed
/// after 1 s, as servers with a short keep-alive timeout do. [`RawServer::stop`] closes the
/// listener and every connection, so that nothing answers any more.
pub struct RawServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accepting: Option<std::thread::JoinHandle<()>>,
}

impl RawServer {
    /// Starts the server.
    pub fn start(reply: impl Fn(usize, &str) -> Reply + Send + Sync + 'static) -> RawServer {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let stop = Arc::new(AtomicBool::new(false));
        let reply = Arc::new(reply);
        let stopping = stop.clone();
        let accepting = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (reply, stopping) = (reply.clone(), stopping.clone());
                        std::thread::spawn(move || serve_connection(stream, &*reply, &stopping));
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        RawServer {
            url,
            stop,
            accepting: Some(accepting),
        }
    }

    /// Stops accepting and closes every connection; returns once the port is closed.
    pub fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(accepting) = self.accepting.take() {
            accepting.join().expect("accept loop");
        }
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads requests from `stream` and answers each with `reply`, until the peer closes, a reply
/// closes, the connection stays idle for 1 s, or the server stops.
fn serve_connection(
    mut stream: std::net::TcpStream,
    reply: &(dyn Fn(usize, &str) -> Reply + Send + Sync),
    stopping: &std::sync::atomic::AtomicBool,
) {
    use std::io::{Read, Write};
    let tick = std::time::Duration::from_millis(20);
    stream.set_nonblocking(false).expect("blocking");
    stream.set_read_timeout(Some(tick)).expect("timeout");
    let mut pending: Vec<u8> = Vec::new();
    let mut served = 0;
    let mut idle = std::time::Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        if stopping.load(std::sync::atomic::Ordering::SeqCst)
            || idle.elapsed() > std::time::Duration::from_secs(1)
        {
            return;
        }
        if let Some((path, length)) = request_head(&pending) {
            pending.drain(..length);
            idle = std::time::Instant::now();
            let (bytes, close) = match reply(served, &path) {
                Reply::Send(bytes) => (bytes, false),
                Reply::SendThenClose(bytes) => (bytes, true),
                Reply::Stall => {
                    while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                        std::thread::sleep(tick);
                    }
                    return;
                }
            };
            served += 1;
            if stream.write_all(&bytes).is_err() || close {
                return;
            }
            continue;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// The path and total length (head and `content-length` body) of the complete request at the
/// start of `bytes`, if one has arrived.
fn request_head(bytes: &[u8]) -> Option<(String, usize)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&bytes[..end]);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let body: usize = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0);
    (bytes.len() >= end + body).then(|| (path, end + body))
}
