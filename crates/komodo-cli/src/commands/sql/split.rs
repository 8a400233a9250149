//! Splitting SQL text into statements.

/// Splits SQL text into statements at each `;` that is outside string
/// literals (`'...'`, with `''` and `\'` escapes), quoted identifiers
/// (`"..."`), `$$...$$` blocks and comments (`--` and `//` to the end of
/// the line, `/* ... */`). Each statement is trimmed and loses its `;`;
/// statements holding nothing but whitespace and comments are dropped.
pub(crate) fn split_statements(text: &str) -> Vec<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        Single,
        Double,
        Dollar,
        LineComment,
        BlockComment,
    }
    let bytes = text.as_bytes();
    let mut statements = Vec::new();
    let (mut state, mut start, mut has_code, mut i) = (State::Code, 0, false, 0);
    let mut finish = |from: usize, to: usize, has_code: bool| {
        let statement = text[from..to].trim();
        if has_code && !statement.is_empty() {
            statements.push(statement.to_owned());
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match state {
            State::Code => match b {
                b';' => {
                    finish(start, i, has_code);
                    start = i + 1;
                    has_code = false;
                }
                b'\'' => (state, has_code) = (State::Single, true),
                b'"' => (state, has_code) = (State::Double, true),
                b'$' if next == Some(b'$') => {
                    (state, has_code) = (State::Dollar, true);
                    i += 1;
                }
                b'-' if next == Some(b'-') => state = State::LineComment,
                b'/' if next == Some(b'/') => state = State::LineComment,
                b'/' if next == Some(b'*') => {
                    state = State::BlockComment;
                    i += 1;
                }
                b if b.is_ascii_whitespace() => {}
                _ => has_code = true,
            },
            State::Single => match b {
                b'\\' => i += 1,
                b'\'' if next == Some(b'\'') => i += 1,
                b'\'' => state = State::Code,
                _ => {}
            },
            State::Double => match b {
                b'"' if next == Some(b'"') => i += 1,
                b'"' => state = State::Code,
                _ => {}
            },
            State::Dollar => {
                if b == b'$' && next == Some(b'$') {
                    state = State::Code;
                    i += 1;
                }
            }
            State::LineComment => {
                if b == b'\n' {
                    state = State::Code;
                }
            }
            State::BlockComment => {
                if b == b'*' && next == Some(b'/') {
                    state = State::Code;
                    i += 1;
                }
            }
        }
        i += 1;
    }
    finish(start, text.len(), has_code);
    statements
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_at_semicolons_in_code_only() {
        assert_eq!(split_statements("SELECT 1; SELECT 2;"), ["SELECT 1", "SELECT 2"]);
        assert_eq!(split_statements("SELECT 1"), ["SELECT 1"]);
        assert_eq!(
            split_statements("SELECT ';' AS a; SELECT 'it''s;' , 'a\\';b'"),
            ["SELECT ';' AS a", "SELECT 'it''s;' , 'a\\';b'"]
        );
        assert_eq!(
            split_statements("SELECT \"a;b\"\"c\" FROM t; SELECT 2"),
            ["SELECT \"a;b\"\"c\" FROM t", "SELECT 2"]
        );
        assert_eq!(split_statements("SELECT $$a;b$$; SELECT 2"), ["SELECT $$a;b$$", "SELECT 2"]);
    }

    #[test]
    fn comments_hide_semicolons_and_alone_are_no_statement() {
        assert_eq!(split_statements("SELECT 1 -- one; two\n; SELECT 2"), ["SELECT 1 -- one; two", "SELECT 2"]);
        assert_eq!(split_statements("SELECT /* ; */ 1; // done;\n"), ["SELECT /* ; */ 1"]);
        assert_eq!(split_statements("SELECT 1;\n-- the end\n"), ["SELECT 1"]);
        assert_eq!(split_statements("/* nothing */ ; ;  \n"), Vec::<String>::new());
        assert_eq!(split_statements(""), Vec::<String>::new());
        assert_eq!(split_statements("-- header\nSELECT 1"), ["-- header\nSELECT 1"]);
    }

    #[test]
    fn unterminated_literals_run_to_the_end() {
        assert_eq!(split_statements("SELECT 'a;b"), ["SELECT 'a;b"]);
        assert_eq!(split_statements("SELECT 1 /* open; "), ["SELECT 1 /* open;"]);
        assert_eq!(split_statements("SELECT 'é;'; SELECT '日本'"), ["SELECT 'é;'", "SELECT '日本'"]);
    }
}
