//! Just enough SQL lexing to find the statements of a query string and recognise the ones the
//! proxy does not forward as written: those that control transactions, which it maps onto
//! savepoints, and those that drop prepared statements (`DEALLOCATE`, `DISCARD ALL`), which it
//! keeps to the client's own.

use std::ops::Range;

/// A statement that starts, ends or structures a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    /// `BEGIN` or `START TRANSACTION`, with the command tag PostgreSQL reports for it.
    Begin { tag: &'static str },
    /// `COMMIT` or `END`, possibly `AND CHAIN`.
    Commit { chain: bool },
    /// `ROLLBACK` or `ABORT`, possibly `AND CHAIN`.
    Rollback { chain: bool },
    /// `SAVEPOINT`, `RELEASE` or `ROLLBACK TO`, named as in PostgreSQL's error messages.
    Savepoint { command: &'static str },
    /// `PREPARE TRANSACTION` (two-phase commit), which the proxy cannot provide.
    Prepare,
}

/// A statement the proxy does not forward as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Special {
    Control(Control),
    Deallocate(Deallocate),
    /// `DISCARD ALL`.
    DiscardAll,
}

/// What a `DEALLOCATE [PREPARE] …` statement drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Deallocate {
    /// `ALL`.
    All,
    /// One prepared statement, its name read as PostgreSQL reads it (folded to lower case
    /// unless quoted).
    Name(String),
    /// A Unicode-escaped name (`U&"…"`), which the proxy does not decode.
    Unicode,
}

/// The statements of `sql` as byte ranges, in order, without their terminating `;` and skipping
/// empty ones. Semicolons inside literals, quoted identifiers, comments, dollar quotes and
/// `BEGIN ATOMIC … END` function bodies do not separate statements.
pub(super) fn statements(sql: &str) -> Vec<Range<usize>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut words: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let push = |out: &mut Vec<Range<usize>>, range: Range<usize>| {
        if first_words(&sql[range.clone()], 1).is_empty() {
            return;
        }
        out.push(range);
    };
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' => {
                let escapes =
                    i > 0 && matches!(bytes[i - 1], b'e' | b'E') && !ident_at(bytes, i - 1);
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            b'$' => i = skip_dollar_quote(bytes, i),
            b';' if depth == 0 => {
                push(&mut out, start..i);
                i += 1;
                start = i;
                words.clear();
            }
            _ if is_ident_start(b) && !ident_at(bytes, i) => {
                let end = bytes[i..]
                    .iter()
                    .position(|&c| !is_ident_char(c))
                    .map_or(bytes.len(), |p| i + p);
                let word = sql[i..end].to_ascii_uppercase();
                if defines_routine(&words) {
                    match word.as_str() {
                        "BEGIN" | "CASE" => depth += 1,
                        "END" => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
                if words.len() < 8 {
                    words.push(word);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    push(&mut out, start..bytes.len());
    out
}

/// What `statement` (one statement, as returned by [`statements`]) does to the transaction.
pub(super) fn control(statement: &str) -> Option<Control> {
    let words = first_words(statement, 6);
    let word = |i: usize| words.get(i).map(String::as_str);
    let chain = || chained(&words);
    match word(0)? {
        "BEGIN" if word(1) != Some("ATOMIC") => Some(Control::Begin { tag: "BEGIN" }),
        "START" if word(1) == Some("TRANSACTION") => Some(Control::Begin {
            tag: "START TRANSACTION",
        }),
        "COMMIT" if word(1) == Some("PREPARED") => None,
        "COMMIT" | "END" => Some(Control::Commit { chain: chain() }),
        "ROLLBACK" if word(1) == Some("PREPARED") => None,
        "ROLLBACK" | "ABORT" => {
            let skip = usize::from(matches!(word(1), Some("WORK" | "TRANSACTION")));
            if word(0) == Some("ROLLBACK") && word(1 + skip) == Some("TO") {
                Some(Control::Savepoint {
                    command: "ROLLBACK TO SAVEPOINT",
                })
            } else {
                Some(Control::Rollback { chain: chain() })
            }
        }
        "SAVEPOINT" => Some(Control::Savepoint {
            command: "SAVEPOINT",
        }),
        "RELEASE" => Some(Control::Savepoint {
            command: "RELEASE SAVEPOINT",
        }),
        "PREPARE" if word(1) == Some("TRANSACTION") => Some(Control::Prepare),
        _ => None,
    }
}

/// What `statement` (one statement, as returned by [`statements`]) is, when the proxy runs it
/// otherwise than as written. A `DEALLOCATE` that is not valid SQL is not special: the server
/// reports its syntax error.
pub(super) fn special(statement: &str) -> Option<Special> {
    if let Some(control) = control(statement) {
        return Some(Special::Control(control));
    }
    let tokens = tokens(statement, usize::MAX);
    match tokens.as_slice() {
        [first, rest @ ..] if is_word(first, "DEALLOCATE") => {
            deallocate(rest).map(Special::Deallocate)
        }
        [first, second] if is_word(first, "DISCARD") && is_word(second, "ALL") => {
            Some(Special::DiscardAll)
        }
        _ => None,
    }
}

/// The target of `DEALLOCATE` followed by `tokens`.
fn deallocate(tokens: &[Token]) -> Option<Deallocate> {
    if tokens.contains(&Token::Unicode) {
        return Some(Deallocate::Unicode);
    }
    let tokens = match tokens {
        // `DEALLOCATE prepare` names a statement "prepare".
        [first, rest @ ..] if is_word(first, "PREPARE") && !rest.is_empty() => rest,
        _ => tokens,
    };
    match tokens {
        [word] if is_word(word, "ALL") => Some(Deallocate::All),
        [Token::Word(name)] => Some(Deallocate::Name(name.to_ascii_lowercase())),
        [Token::Quoted(name)] if !name.is_empty() => Some(Deallocate::Name(name.clone())),
        _ => None,
    }
}

/// `name` as a quoted identifier.
pub(super) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A token of a statement, as far as [`special`] needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A keyword or unquoted identifier, as written.
    Word(String),
    /// A quoted identifier, unescaped.
    Quoted(String),
    /// A Unicode-escaped identifier (`U&"…"`).
    Unicode,
    /// Anything else; nothing is read after it.
    Other,
}

fn is_word(token: &Token, keyword: &str) -> bool {
    matches!(token, Token::Word(word) if word.eq_ignore_ascii_case(keyword))
}

/// The tokens of `statement`, skipping whitespace and comments, up to the first [`Token::Other`]
/// and at most `max` of them.
fn tokens(statement: &str, max: usize) -> Vec<Token> {
    let bytes = statement.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() && out.len() < max {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = bytes[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(bytes.len(), |p| i + p + 1);
        } else if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = skip_block_comment(bytes, i);
        } else if matches!(b, b'u' | b'U') && bytes[i + 1..].starts_with(b"&\"") {
            out.push(Token::Unicode);
            i = skip_quoted(bytes, i + 2, b'"', false);
        } else if is_ident_start(b) {
            let end = bytes[i..]
                .iter()
                .position(|&c| !is_ident_char(c))
                .map_or(bytes.len(), |p| i + p);
            out.push(Token::Word(statement[i..end].to_string()));
            i = end;
        } else if let Some((name, end)) = (b == b'"').then(|| quoted_ident(statement, i)).flatten()
        {
            out.push(Token::Quoted(name));
            i = end;
        } else {
            out.push(Token::Other);
            break;
        }
    }
    out
}

/// The quoted identifier opening at `i`, unescaped, and the index after it; `None` when it is
/// not closed.
fn quoted_ident(statement: &str, i: usize) -> Option<(String, usize)> {
    let bytes = statement.as_bytes();
    let mut name = String::new();
    let mut start = i + 1;
    loop {
        let quote = start + bytes[start..].iter().position(|&c| c == b'"')?;
        if bytes.get(quote + 1) == Some(&b'"') {
            name.push_str(&statement[start..=quote]);
            start = quote + 2;
        } else {
            name.push_str(&statement[start..quote]);
            return Some((name, quote + 1));
        }
    }
}

/// `… AND CHAIN` but not `… AND NO CHAIN`.
fn chained(words: &[String]) -> bool {
    words.iter().any(|w| w == "CHAIN") && !words.iter().any(|w| w == "NO")
}

/// Whether the words seen so far open `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, whose
/// `BEGIN ATOMIC` body holds semicolons.
fn defines_routine(words: &[String]) -> bool {
    words.first().map(String::as_str) == Some("CREATE")
        && words
            .iter()
            .take(4)
            .any(|w| w == "FUNCTION" || w == "PROCEDURE")
}

/// The first `n` words of `statement`, upper-cased, skipping whitespace and comments; stops at
/// the first token that is not a word. Anything else first (a literal, a parenthesis…) is not a
/// keyword but makes the statement non-empty: it gives one empty word.
fn first_words(statement: &str, n: usize) -> Vec<String> {
    let mut words = Vec::new();
    for token in tokens(statement, n) {
        match token {
            Token::Word(word) => words.push(word.to_ascii_uppercase()),
            _ if words.is_empty() => words.push(String::new()),
            _ => break,
        }
    }
    words
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// Whether the byte at `i` continues an identifier that started before it.
fn ident_at(bytes: &[u8], i: usize) -> bool {
    i > 0 && is_ident_char(bytes[i - 1])
}

/// The index after the literal or quoted identifier opening at `i`.
fn skip_quoted(bytes: &[u8], i: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if backslash_escapes => j += 2,
            c if c == quote => {
                if bytes.get(j + 1) == Some(&quote) {
                    j += 2;
                } else {
                    return j + 1;
                }
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// The index after the (nestable) block comment opening at `i`.
fn skip_block_comment(bytes: &[u8], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j + 1 < bytes.len() {
        match (bytes[j], bytes[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// The index after the dollar-quoted string opening at `i`, or after the `$` when it opens none
/// (a parameter like `$1`, or a `$` inside an identifier).
fn skip_dollar_quote(bytes: &[u8], i: usize) -> usize {
    if ident_at(bytes, i) {
        return i + 1;
    }
    let tag_len = bytes[i + 1..]
        .iter()
        .position(|&c| !(is_ident_start(c) || c.is_ascii_digit()))
        .unwrap_or(bytes.len() - i - 1);
    let close = i + 1 + tag_len;
    let starts_with_digit = tag_len > 0 && bytes[i + 1].is_ascii_digit();
    if close >= bytes.len() || bytes[close] != b'$' || starts_with_digit {
        return i + 1;
    }
    let delimiter = &bytes[i..=close];
    let body = close + 1;
    bytes[body..]
        .windows(delimiter.len())
        .position(|w| w == delimiter)
        .map_or(bytes.len(), |p| body + p + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(sql: &str) -> Vec<&str> {
        statements(sql).into_iter().map(|r| sql[r].trim()).collect()
    }

    #[test]
    fn statements_split_on_semicolons_outside_quotes() {
        assert_eq!(split("SELECT 1; SELECT 2;"), ["SELECT 1", "SELECT 2"]);
        assert_eq!(
            split("SELECT ';'; SELECT \"a;b\""),
            ["SELECT ';'", "SELECT \"a;b\""]
        );
        assert_eq!(split("SELECT E'\\';'; END"), ["SELECT E'\\';'", "END"]);
        assert_eq!(split("SELECT 'it''s;'"), ["SELECT 'it''s;'"]);
        assert_eq!(
            split("-- c;\nBEGIN; /* ; /* ; */ */ COMMIT"),
            ["-- c;\nBEGIN", "/* ; /* ; */ */ COMMIT"]
        );
        assert_eq!(split("SELECT $x$;$x$, $1; ;;"), ["SELECT $x$;$x$, $1"]);
        assert_eq!(
            split("DO $$BEGIN PERFORM 1; END$$; COMMIT"),
            ["DO $$BEGIN PERFORM 1; END$$", "COMMIT"]
        );
        assert_eq!(split(""), Vec::<&str>::new());
    }

    #[test]
    fn routine_bodies_keep_their_semicolons() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END; COMMIT";
        assert_eq!(split(sql).len(), 2);
        assert_eq!(
            control(split(sql)[1]),
            Some(Control::Commit { chain: false })
        );
    }

    #[test]
    fn transaction_control_is_recognised() {
        assert_eq!(control("begin"), Some(Control::Begin { tag: "BEGIN" }));
        assert_eq!(
            control(" BEGIN ISOLATION LEVEL SERIALIZABLE"),
            Some(Control::Begin { tag: "BEGIN" })
        );
        assert_eq!(
            control("start transaction read only"),
            Some(Control::Begin {
                tag: "START TRANSACTION"
            })
        );
        assert_eq!(
            control("/* x */ commit work"),
            Some(Control::Commit { chain: false })
        );
        assert_eq!(control("END"), Some(Control::Commit { chain: false }));
        assert_eq!(
            control("COMMIT AND CHAIN"),
            Some(Control::Commit { chain: true })
        );
        assert_eq!(
            control("COMMIT AND NO CHAIN"),
            Some(Control::Commit { chain: false })
        );
        assert_eq!(
            control("rollback"),
            Some(Control::Rollback { chain: false })
        );
        assert_eq!(control("ABORT"), Some(Control::Rollback { chain: false }));
        assert_eq!(
            control("ROLLBACK TO SAVEPOINT a"),
            Some(Control::Savepoint {
                command: "ROLLBACK TO SAVEPOINT"
            })
        );
        assert_eq!(
            control("rollback work to a"),
            Some(Control::Savepoint {
                command: "ROLLBACK TO SAVEPOINT"
            })
        );
        assert_eq!(
            control("SAVEPOINT a"),
            Some(Control::Savepoint {
                command: "SAVEPOINT"
            })
        );
        assert_eq!(
            control("release a"),
            Some(Control::Savepoint {
                command: "RELEASE SAVEPOINT"
            })
        );
        assert_eq!(control("PREPARE TRANSACTION 'x'"), Some(Control::Prepare));
        assert_eq!(control("COMMIT PREPARED 'x'"), None);
        assert_eq!(control("PREPARE q AS SELECT 1"), None);
        assert_eq!(control("SELECT 1"), None);
        assert_eq!(control("begin_x()"), None);
        assert_eq!(control("INSERT INTO t VALUES ('COMMIT')"), None);
    }

    #[test]
    fn deallocate_and_discard_all_are_recognised() {
        let name = |n: &str| Some(Special::Deallocate(Deallocate::Name(n.to_string())));
        let all = Some(Special::Deallocate(Deallocate::All));
        assert_eq!(special("DEALLOCATE ALL"), all);
        assert_eq!(special("deallocate prepare all"), all);
        assert_eq!(special(" /* x */ Deallocate -- y\n All "), all);
        assert_eq!(special("DEALLOCATE _pg3_0"), name("_pg3_0"));
        assert_eq!(special("DEALLOCATE PREPARE S1"), name("s1"));
        assert_eq!(special("DEALLOCATE \"S1\""), name("S1"));
        assert_eq!(special("DEALLOCATE \"all\""), name("all"));
        assert_eq!(special("DEALLOCATE \"a\"\"b\""), name("a\"b"));
        assert_eq!(special("DEALLOCATE prepare"), name("prepare"));
        assert_eq!(special("DEALLOCATE venom_op_x"), name("venom_op_x"));
        assert_eq!(
            special("DEALLOCATE u&\"venom\" UESCAPE '!'"),
            Some(Special::Deallocate(Deallocate::Unicode))
        );
        // Syntax errors are the server's to report.
        assert_eq!(special("DEALLOCATE"), None);
        assert_eq!(special("DEALLOCATE a b"), None);
        assert_eq!(special("DEALLOCATE \"\""), None);
        assert_eq!(special("DEALLOCATE \"open"), None);
        assert_eq!(special("DEALLOCATE 1"), None);
        assert_eq!(special("discard all"), Some(Special::DiscardAll));
        assert_eq!(special("DISCARD PLANS"), None);
        assert_eq!(special("DISCARD ALL x"), None);
        assert_eq!(special("SELECT 'DEALLOCATE ALL'"), None);
        assert_eq!(
            special("rollback"),
            Some(Special::Control(Control::Rollback { chain: false }))
        );
        let sql = "SELECT 1; DEALLOCATE ALL;";
        let found: Vec<_> = statements(sql)
            .into_iter()
            .map(|r| special(&sql[r]))
            .collect();
        assert_eq!(found, [None, all]);
        assert_eq!(quote_ident("c1_a\"b"), "\"c1_a\"\"b\"");
    }
}
