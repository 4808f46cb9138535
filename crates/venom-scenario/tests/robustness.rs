//! No input crashes, hangs or exhausts `venom check`: the checked-in corpus of inputs that once
//! did (`tests/corpus/`), an oversized file, and the largest expressions accepted. Each input
//! is read on a thread with a 16 MiB stack (a quarter of the thread the CLI runs its commands
//! on; this is a debug build, whose frames are several times larger), under a 10 s watchdog.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use venom_scenario::ScenarioError;

/// How long one input may take.
const WATCHDOG: Duration = Duration::from_secs(10);

/// Runs `work` on a thread with a 16 MiB stack; its result, or a panic message naming `what`
/// when it panicked (a stack overflow aborts the whole test binary instead) or took too long.
fn guarded<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let _ = sender.send(work());
        })
        .expect("thread");
    receiver
        .recv_timeout(WATCHDOG)
        .unwrap_or_else(|e| panic!("{what}: no answer within {WATCHDOG:?} ({e})"))
}

fn corpus() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("corpus folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_input_of_the_crash_corpus_is_refused_with_its_position() {
    let files = corpus();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let name = file.display().to_string();
        let path = file.clone();
        let result = guarded(&name, move || venom_scenario::load(&path).map(|_| ()));
        let err: ScenarioError = match result {
            Ok(()) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(
            err.line > 0 && err.column > 0,
            "{name}: no position: {text}"
        );
        let first_line = text.lines().next().unwrap_or_default();
        assert!(
            first_line.chars().count() <= 400,
            "{name}: a line of {} characters: {first_line:.200}…",
            first_line.chars().count()
        );
    }
}

#[test]
fn an_oversized_file_is_refused_before_it_is_parsed() {
    // 48 MB of `true && `: it once took 24 GB.
    let mut text = String::from(
        "base_url = \"http://127.0.0.1:9\"\n[[actions]]\nname = \"a\"\nmethod = \"GET\"\n\
         path = \"/\"\n[[invariants]]\nname = \"i\"\nexpr = \"",
    );
    text.push_str(&"true && ".repeat(6_000_000));
    text.push_str("true\"\n");
    let err = guarded("48 MB", move || {
        venom_scenario::parse(&text, Path::new("big.toml")).map(|_| ())
    })
    .unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn the_largest_accepted_expressions_evaluate_without_overflowing() {
    use venom_scenario::{Expr, Vars, MAX_NESTING, MAX_OPERATORS};
    let chain = vec!["1"; MAX_OPERATORS].join(" + ") + " > 0";
    let members = format!("has(ctx{})", ".a".repeat(MAX_OPERATORS - 1));
    let parens = format!("{}true{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
    for source in [chain, members, parens] {
        let shown = source.chars().take(40).collect::<String>();
        // Evaluated over an empty context: a value or an evaluation error, never an overflow.
        let message = guarded(&shown, move || {
            let expr = Expr::compile(&source).map_err(|e| e.to_string())?;
            let ctx = venom_engine::Context::new();
            expr.eval(&Vars::new(&ctx)).map_err(|e| e.to_string())
        })
        .err()
        .unwrap_or_default();
        assert!(
            !message.contains("CEL expression"),
            "{shown}… refused: {message}"
        );
        assert!(message.chars().count() <= 400, "{shown}…: {message}");
    }
}

/// One edit of a scenario's text: at a fraction of its length, delete some bytes and insert a
/// string drawn from the characters scenarios and expressions are made of.
fn edit() -> impl proptest::strategy::Strategy<Value = (f64, usize, String)> {
    (
        0.0..1.0f64,
        0usize..6,
        r#"[\[\]{}()"'.=+&|!?:$@*,#0-9a-z_ \n\\{]{0,12}"#,
    )
}

/// Applies `edits` to `text` (positions moved to character boundaries).
fn mutated(text: &str, edits: &[(f64, usize, String)]) -> String {
    let mut out = text.to_string();
    for (at, delete, insert) in edits {
        let mut start = ((out.len() as f64) * at) as usize;
        while !out.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + delete).min(out.len());
        while !out.is_char_boundary(end) {
            end += 1;
        }
        // Now and then a whole segment is repeated, which grows nesting and chains.
        let insert = if insert.starts_with('{') {
            out[start..end].repeat(40)
        } else {
            insert.clone()
        };
        out.replace_range(start..end, &insert);
    }
    out
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        // 1,000 by default; PROPTEST_CASES raises it for a longer campaign.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1000),
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    /// Mutations of the two example scenarios (the orders demo; the notes one with roles,
    /// steps, checks and observations): each is accepted or refused with a position, in time.
    #[test]
    fn mutated_scenarios_are_accepted_or_refused_never_crash(
        edits in proptest::collection::vec(edit(), 1..8),
        notes in proptest::bool::ANY,
    ) {
        let example = match notes {
            false => include_str!("../../../examples/demo.toml"),
            true => include_str!("../../../examples/notes.toml"),
        };
        let text = mutated(example, &edits);
        let result = guarded("a mutated example scenario", move || {
            venom_scenario::parse(&text, Path::new("mutated.toml")).map(|_| ())
        });
        if let Err(err) = result {
            proptest::prop_assert!(err.line > 0, "{}", err);
            proptest::prop_assert!(err.to_string().lines().all(|l| l.chars().count() <= 400), "{}", err);
        }
    }
}
