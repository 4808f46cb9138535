//! The command line of a bench harness (`harness = false`): `cargo bench … -- WORDS --name
//! VALUE`, where cargo itself adds `--bench`; and its settings from the environment.

/// The value of option `--name`, given as `--name VALUE` or `--name=VALUE`.
pub fn option(args: &[String], name: &str) -> Option<String> {
    let flag = format!("--{name}");
    let prefix = format!("--{name}=");
    args.iter().enumerate().find_map(|(i, arg)| {
        if let Some(value) = arg.strip_prefix(&prefix) {
            Some(value.to_string())
        } else if *arg == flag {
            args.get(i + 1).cloned()
        } else {
            None
        }
    })
}

/// The arguments that are neither options nor the values of the options named in `valued`
/// (`"--rounds"`, …).
pub fn words(args: &[String], valued: &[&str]) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if valued.contains(&arg.as_str()) {
            rest.next();
        } else if !arg.starts_with('-') {
            words.push(arg.clone());
        }
    }
    words
}

/// The number in the environment variable `name`, or `default` when it is unset or no number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::{option, words};

    #[test]
    fn options_and_words_are_told_apart() {
        let args: Vec<String> = ["bfs", "--bench", "--n", "216", "--repeats=1", "dfs"]
            .map(String::from)
            .to_vec();
        assert_eq!(option(&args, "n").as_deref(), Some("216"));
        assert_eq!(option(&args, "repeats").as_deref(), Some("1"));
        assert_eq!(option(&args, "seed"), None);
        assert_eq!(words(&args, &["--n"]), ["bfs", "dfs"]);
    }
}
