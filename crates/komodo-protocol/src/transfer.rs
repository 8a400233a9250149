//! `PUT` and `GET`, the statements that move files between a client and a
//! stage: read here once, by the SDK (which sends the files over the
//! gateway's HTTP) and by the gateway (which answers Snowflake's
//! connectors).
//!
//! ```
//! use komodo_protocol::transfer::{Transfer, parse};
//!
//! let Some(Ok(Transfer::Put(put))) = parse("PUT 'file:///tmp/a b.csv' @~/in OVERWRITE = TRUE") else { panic!() };
//! assert_eq!(put.local, "/tmp/a b.csv");
//! assert_eq!(put.stage, "@~/in");
//! assert!(put.overwrite && put.auto_compress);
//! assert!(parse("SELECT 1").is_none());
//! ```

/// A file-moving statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// `PUT file://<path> @stage[/path] [options]`.
    Put(Put),
    /// `GET @stage[/path] file://<directory> [options]`.
    Get(Get),
}

/// `PUT file://<path> @stage[/path] [AUTO_COMPRESS = TRUE|FALSE]
/// [SOURCE_COMPRESSION = ...] [OVERWRITE = TRUE|FALSE] [PARALLEL = n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// The local file (a glob such as `/data/*.csv` names several).
    pub local: String,
    /// The stage and path, as written (`@~/dir`, `@%t`, `@s/path`).
    pub stage: String,
    /// Gzip files that are not compressed already (the default).
    pub auto_compress: bool,
    /// `SOURCE_COMPRESSION`, upper case (`AUTO_DETECT` by default).
    pub source_compression: String,
    /// Replace a staged file of the same name.
    pub overwrite: bool,
    /// `PARALLEL` (files sent at once).
    pub parallel: u32,
}

/// `GET @stage[/path] file://<directory> [PATTERN = '...'] [PARALLEL = n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    /// The stage and path, as written.
    pub stage: String,
    /// The local directory the files go to.
    pub local: String,
    /// `PATTERN`: a regular expression the files' names must match.
    pub pattern: Option<String>,
    /// `PARALLEL` (files fetched at once).
    pub parallel: u32,
}

/// The result columns of a `PUT`, as Snowflake's connectors show them.
pub const PUT_COLUMNS: [&str; 8] =
    ["source", "target", "source_size", "target_size", "source_compression", "target_compression", "status", "message"];

/// The result columns of a `GET`.
pub const GET_COLUMNS: [&str; 4] = ["file", "size", "status", "message"];

/// Reads `sql` as `PUT` or `GET`: `None` when it is neither, an error
/// (what to write instead) when it is one but malformed.
pub fn parse(sql: &str) -> Option<Result<Transfer, String>> {
    parse_bound(sql, &[])
}

/// [`parse`] with positional bindings: each `?` word (outside quotes) is
/// the next of `values`, as Snowflake's connectors send a `PUT`'s stage
/// (`PUT 'file:///tmp/f' ? PARALLEL=4` with the stage bound).
///
/// ```
/// use komodo_protocol::transfer::{Transfer, parse_bound};
///
/// let Some(Ok(Transfer::Put(put))) = parse_bound("PUT 'file:///tmp/f' ? parallel=4", &["@\"S\"".into()]) else { panic!() };
/// assert_eq!(put.stage, "@\"S\"");
/// ```
pub fn parse_bound(sql: &str, values: &[String]) -> Option<Result<Transfer, String>> {
    let text = strip_comments(sql);
    let text = text.trim().trim_end_matches(';').trim();
    let verb = text.split_whitespace().next()?.to_ascii_uppercase();
    if verb != "PUT" && verb != "GET" {
        return None;
    }
    Some(words(&text[3..], values).and_then(|words| match verb.as_str() {
        "PUT" => put(&words).map(Transfer::Put),
        _ => get(&words).map(Transfer::Get),
    }))
}

fn strip_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    loop {
        let trimmed = rest.trim_start();
        if let Some(after) = trimmed.strip_prefix("--").or_else(|| trimmed.strip_prefix("//")) {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = trimmed.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            out.push_str(trimmed);
            return out;
        }
    }
}

/// The statement's words: runs of text split at whitespace and around
/// `=`, a single-quoted string being one word (quotes taken off, `''` an
/// escaped quote), a bare `?` the next of `values`.
fn words(text: &str, values: &[String]) -> Result<Vec<String>, String> {
    let mut values = values.iter();
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '=' {
            chars.next();
            out.push("=".to_owned());
        } else if c == '\'' {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        word.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => word.push(c),
                    None => return Err("a quoted string is not closed".into()),
                }
            }
            out.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '=' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            if word == "?" {
                word = values.next().ok_or("a ? has no bound value: bind one value per ?")?.clone();
            }
            out.push(word);
        }
    }
    Ok(out)
}

fn local_path(word: &str) -> Result<String, String> {
    let path = word
        .strip_prefix("file://")
        .ok_or_else(|| format!("{word} is not a local file: name one as file:///path/to/file"))?;
    if path.is_empty() {
        return Err("the local path is empty".into());
    }
    Ok(path.to_owned())
}

fn stage(word: &str) -> Result<String, String> {
    match word.starts_with('@') {
        true => Ok(word.to_owned()),
        false => Err(format!("{word} is not a stage: name one as @~, @%table or @stage[/path]")),
    }
}

/// The `KEY = value` options after the two operands.
fn options(words: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match (words.get(i), words.get(i + 1), words.get(i + 2)) {
            (Some(key), Some(eq), Some(value)) if eq == "=" => {
                out.push((key.to_ascii_uppercase(), value.clone()));
                i += 3;
            }
            _ => return Err(format!("expected an option such as OVERWRITE = TRUE, found {}", words[i])),
        }
    }
    Ok(out)
}

fn flag(key: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_uppercase().as_str() {
        "TRUE" => Ok(true),
        "FALSE" => Ok(false),
        _ => Err(format!("{key} takes TRUE or FALSE, not {value}")),
    }
}

fn parallel(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if (1..=99).contains(&n) => Ok(n),
        _ => Err(format!("PARALLEL takes a number from 1 to 99, not {value}")),
    }
}

fn put(words: &[String]) -> Result<Put, String> {
    let [local, at, rest @ ..] = words else {
        return Err("PUT takes a local file and a stage: PUT file:///path/to/file @stage".into());
    };
    let mut put = Put {
        local: local_path(local)?,
        stage: stage(at)?,
        auto_compress: true,
        source_compression: "AUTO_DETECT".into(),
        overwrite: false,
        parallel: 4,
    };
    for (key, value) in options(rest)? {
        match key.as_str() {
            "AUTO_COMPRESS" => put.auto_compress = flag(&key, &value)?,
            "OVERWRITE" => put.overwrite = flag(&key, &value)?,
            "SOURCE_COMPRESSION" => put.source_compression = value.to_ascii_uppercase(),
            "PARALLEL" => put.parallel = parallel(&value)?,
            other => return Err(format!("PUT has no option {other}")),
        }
    }
    Ok(put)
}

fn get(words: &[String]) -> Result<Get, String> {
    let [at, local, rest @ ..] = words else {
        return Err("GET takes a stage and a local directory: GET @stage file:///path/to/dir/".into());
    };
    let mut get = Get { stage: stage(at)?, local: local_path(local)?, pattern: None, parallel: 10 };
    for (key, value) in options(rest)? {
        match key.as_str() {
            "PATTERN" => get.pattern = Some(value),
            "PARALLEL" => get.parallel = parallel(&value)?,
            other => return Err(format!("GET has no option {other}")),
        }
    }
    Ok(get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_and_get_are_read_with_their_options() {
        let Some(Ok(Transfer::Put(p))) =
            parse("-- load\nput file:///tmp/x.csv @my_stage/2024 auto_compress=false overwrite = true parallel=2;")
        else {
            panic!()
        };
        assert_eq!((p.local.as_str(), p.stage.as_str()), ("/tmp/x.csv", "@my_stage/2024"));
        assert!(!p.auto_compress && p.overwrite);
        assert_eq!(p.parallel, 2);
        let Some(Ok(Transfer::Get(g))) = parse("GET @~/out/ 'file:///tmp/it''s/' PATTERN = '.*[.]csv'") else {
            panic!()
        };
        assert_eq!((g.stage.as_str(), g.local.as_str()), ("@~/out/", "/tmp/it's/"));
        assert_eq!(g.pattern.as_deref(), Some(".*[.]csv"));
    }

    #[test]
    fn malformed_transfers_say_what_to_write() {
        for (sql, wanted) in [
            ("PUT /tmp/x @s", "file:///"),
            ("PUT file:///tmp/x stage", "not a stage"),
            ("PUT file:///tmp/x", "PUT takes"),
            ("PUT file:///tmp/x @s OVERWRITE = MAYBE", "TRUE or FALSE"),
            ("PUT file:///tmp/x @s COLOR = RED", "no option COLOR"),
            ("GET @s 'file:///tmp", "not closed"),
            ("GET @s file:///tmp PARALLEL = 0", "PARALLEL"),
        ] {
            match parse(sql) {
                Some(Err(e)) => assert!(e.contains(wanted), "{sql}: {e}"),
                other => panic!("{sql}: {other:?}"),
            }
        }
        assert!(parse("PUTTY").is_none());
        assert!(matches!(parse("PUT file:///tmp/x ?"), Some(Err(e)) if e.contains("no bound value")));
        let bound = parse_bound("PUT 'file:///tmp/?' ? OVERWRITE = ?", &["@s".into(), "TRUE".into()]);
        let Some(Ok(Transfer::Put(p))) = bound else { panic!("{bound:?}") };
        assert_eq!((p.local.as_str(), p.stage.as_str(), p.overwrite), ("/tmp/?", "@s", true));
        assert!(parse("select 'PUT'").is_none());
    }
}
