//! A raw loopback HTTP/1.1 server whose streamed answers have known chunk timing (tests and
//! benches):
//!
//! - `GET /events`: 50 Server-Sent Events, 20 ms apart;
//! - `GET /lines`: 40 NDJSON lines, 10 ms apart;
//! - `GET /big`: 1 GiB of chunked `application/octet-stream`, in 1 MiB chunks, as fast as it
//!   goes.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;
use venom_load::{Control, LoadPlan, LoadSummary, PlanOptions, Progress};

const BIG_CHUNK: usize = 1 << 20;
pub const BIG_CHUNKS: usize = 1024;

/// Serves one connection's requests until the client closes it.
fn serve(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.set_nodelay(true)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" {
                break;
            }
        }
        let head = |content_type: &str| {
            format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n")
        };
        let chunk = |out: &mut TcpStream, data: &[u8]| -> std::io::Result<()> {
            out.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
            out.write_all(data)?;
            out.write_all(b"\r\n")
        };
        match path.as_str() {
            "/events" => {
                out.write_all(head("text/event-stream").as_bytes())?;
                for i in 0..50 {
                    std::thread::sleep(Duration::from_millis(20));
                    chunk(
                        &mut out,
                        format!("id: {i}\ndata: {{\"n\": {i}}}\n\n").as_bytes(),
                    )?;
                }
            }
            "/lines" => {
                out.write_all(head("application/x-ndjson").as_bytes())?;
                for i in 0..20 {
                    std::thread::sleep(Duration::from_millis(10));
                    chunk(&mut out, format!("{{\"n\": {}}}\n", 2 * i).as_bytes())?;
                    std::thread::sleep(Duration::from_millis(10));
                    chunk(&mut out, format!("{{\"n\": {}}}\n", 2 * i + 1).as_bytes())?;
                }
            }
            "/big" => {
                out.write_all(head("application/octet-stream").as_bytes())?;
                let data = vec![b'x'; BIG_CHUNK];
                for _ in 0..BIG_CHUNKS {
                    chunk(&mut out, &data)?;
                }
            }
            _ => {
                out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")?;
                continue;
            }
        }
        out.write_all(b"0\r\n\r\n")?;
    }
}

pub fn start_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    url
}

/// One iteration of `GET path` (the action `s`) with one user, under `thresholds` (lines of
/// `[load.thresholds]`); the summary.
pub fn run_once(url: &str, path: &str, thresholds: &str) -> LoadSummary {
    let scenario = venom_scenario::parse(
        &format!(
            "base_url = \"{url}\"\n[defaults]\ntimeout = 300.0\n\
             [[actions]]\nname = \"s\"\nmethod = \"GET\"\npath = \"{path}\"\nexpect = [200]\n\
             [load.thresholds]\n{thresholds}"
        ),
        Path::new("stream.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let plan = LoadPlan::resolve(
        &scenario,
        &PlanOptions {
            vus: Some(1),
            iterations: Some(1),
            flow: Some("s".into()),
            ..PlanOptions::default()
        },
    )
    .expect("plan");
    let control = Control {
        interrupt: None,
        progress: Progress::Silent,
    };
    venom_load::run(&scenario, &plan, control).expect("run")
}
