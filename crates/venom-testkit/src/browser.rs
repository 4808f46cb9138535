//! A real headless browser for tests of HTML pages: Debian's `chromium` (installed by
//! `scripts/test`; `VENOM_CHROMIUM` names another binary), run once per page with no network
//! beyond the file itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one page may take to render.
const RENDER_TIMEOUT: Duration = Duration::from_secs(60);

/// What the browser made of a page.
#[derive(Debug)]
pub struct Rendered {
    /// The DOM after the page's scripts ran, serialized.
    pub dom: String,
    /// The messages the page wrote to the console (errors included).
    pub console: Vec<String>,
    /// The screenshot's pixels (RGBA, row by row) and size.
    pub pixels: Vec<u8>,
    /// The screenshot's width and height.
    pub size: (u32, u32),
}

impl Rendered {
    /// The share of pixels of the screenshot that are not (nearly) white.
    pub fn inked(&self) -> f64 {
        let pixels = self.pixels.chunks_exact(4);
        let total = pixels.len().max(1);
        let inked = pixels.filter(|p| p[..3].iter().any(|&c| c < 235)).count();
        inked as f64 / total as f64
    }
}

/// The browser binary: `$VENOM_CHROMIUM`, else `chromium` on the `PATH`. Panics with the way
/// to install it when there is none.
pub fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("VENOM_CHROMIUM") {
        return PathBuf::from(path);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        let candidate = dir.join("chromium");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("no chromium: install Debian's package `chromium` (scripts/test does) or set VENOM_CHROMIUM");
}

/// Renders the page at `page` headless in a `width`×`height` window: its DOM, its console
/// messages and a screenshot (written beside the page, `<page>.png`).
pub fn render(page: &Path, width: u32, height: u32) -> Rendered {
    let url = format!(
        "file://{}",
        page.canonicalize().expect("the page exists").display()
    );
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let shot = page.with_extension("png");
    let base = |cmd: &mut Command| {
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"));
    };
    let mut dump = Command::new(chromium());
    base(&mut dump);
    let dumped = run(dump.arg("--dump-dom").arg(&url));
    let mut screenshot = Command::new(chromium());
    base(&mut screenshot);
    run(screenshot
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url));
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("the screenshot was written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG screenshot");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("its pixels");
    pixels.truncate(info.buffer_size());
    let pixels = match info.color_type {
        png::ColorType::Rgba => pixels,
        png::ColorType::Rgb => pixels
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect(),
        other => panic!("unexpected screenshot colours {other:?}"),
    };
    let console = String::from_utf8_lossy(&dumped.stderr)
        .lines()
        .filter(|line| line.contains("CONSOLE"))
        .map(str::to_string)
        .collect();
    Rendered {
        dom: String::from_utf8_lossy(&dumped.stdout).into_owned(),
        console,
        pixels,
        size: (info.width, info.height),
    }
}

/// Runs the browser to completion within [`RENDER_TIMEOUT`] (killed past it), reading its
/// output as it comes (a large DOM would fill a pipe).
fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped")));
    let stderr = read(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + RENDER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium runs") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {RENDER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: stdout.join().expect("stdout read"),
        stderr: stderr.join().expect("stderr read"),
    };
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
