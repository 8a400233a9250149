//! The subset of GraphQL the subscription service's account-access check
//! needs: one operation (`query`, optionally named, or a bare selection
//! set) of fields with string arguments and nested selection sets.
//! Variables, fragments, directives, aliases and every other value kind
//! are refused with a message saying so.
//!
//! The input is hostile: it is bounded in length, nesting and field count
//! before anything else, and the parser never recurses deeper than
//! [`MAX_DEPTH`].

/// The longest document accepted, in bytes.
pub const MAX_DOCUMENT_LEN: usize = 16 * 1024;
/// The deepest nesting of selection sets accepted.
pub const MAX_DEPTH: usize = 8;
/// The most fields in one document.
pub const MAX_FIELDS: usize = 256;

/// A field of a selection set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// Its arguments, in the order written (string values only).
    pub arguments: Vec<(String, String)>,
    /// Its sub-selection; empty for a leaf.
    pub selection: Vec<Field>,
}

impl Field {
    /// The value of argument `name`, if given.
    pub fn argument(&self, name: &str) -> Option<&str> {
        self.arguments.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Why a document was refused; the message is fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GraphqlError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, GraphqlError> {
    Err(GraphqlError(message.into()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Name(String),
    Str(String),
    Punct(char),
}

fn tokenize(source: &str) -> Result<Vec<Token>, GraphqlError> {
    let mut tokens = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => {}
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '{' | '}' | '(' | ')' | ':' => tokens.push(Token::Punct(c)),
            '"' => {
                if chars.peek().map(|(_, c)| *c) == Some('"') {
                    // `""` is an empty string; `"""` a block string.
                    chars.next();
                    if chars.peek().map(|(_, c)| *c) == Some('"') {
                        return err("block strings are not supported; use a \"quoted string\"");
                    }
                    tokens.push(Token::Str(String::new()));
                    continue;
                }
                let mut value = String::new();
                loop {
                    let Some((_, c)) = chars.next() else { return err("unterminated string") };
                    match c {
                        '"' => break,
                        '\n' | '\r' => return err("unterminated string"),
                        '\\' => {
                            let Some((_, e)) = chars.next() else { return err("unterminated string") };
                            match e {
                                '"' => value.push('"'),
                                '\\' => value.push('\\'),
                                '/' => value.push('/'),
                                'b' => value.push('\u{8}'),
                                'f' => value.push('\u{c}'),
                                'n' => value.push('\n'),
                                'r' => value.push('\r'),
                                't' => value.push('\t'),
                                'u' => {
                                    let mut code = 0u32;
                                    for _ in 0..4 {
                                        let Some((_, h)) = chars.next() else { return err("bad \\u escape") };
                                        let Some(d) = h.to_digit(16) else { return err("bad \\u escape") };
                                        code = code * 16 + d;
                                    }
                                    let Some(ch) = char::from_u32(code) else { return err("bad \\u escape") };
                                    value.push(ch);
                                }
                                _ => return err(format!("unknown escape \\{e} in a string")),
                            }
                        }
                        c => value.push(c),
                    }
                }
                tokens.push(Token::Str(value));
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let mut name = String::from(c);
                while let Some((_, n)) = chars.peek().copied() {
                    if n == '_' || n.is_ascii_alphanumeric() {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Name(name));
            }
            c if c.is_ascii_digit() || matches!(c, '-' | '[' | ']') => {
                return err("only \"string\" argument values are supported");
            }
            '$' => return err("variables are not supported; write the value into the query"),
            '.' => return err("fragments are not supported"),
            '@' => return err("directives are not supported"),
            c => return err(format!("unexpected character `{}`", c.escape_default())),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    fields: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, c: char) -> Result<(), GraphqlError> {
        match self.next() {
            Some(Token::Punct(p)) if p == c => Ok(()),
            _ => err(format!("expected `{c}`")),
        }
    }

    fn selection_set(&mut self, depth: usize) -> Result<Vec<Field>, GraphqlError> {
        if depth > MAX_DEPTH {
            return err(format!("the query nests deeper than {MAX_DEPTH} levels"));
        }
        self.expect('{')?;
        let mut fields = Vec::new();
        loop {
            match self.next() {
                Some(Token::Punct('}')) if !fields.is_empty() => return Ok(fields),
                Some(Token::Punct('}')) => return err("a selection set must select at least one field"),
                Some(Token::Name(name)) => {
                    self.fields += 1;
                    if self.fields > MAX_FIELDS {
                        return err(format!("the query selects more than {MAX_FIELDS} fields"));
                    }
                    if self.peek() == Some(&Token::Punct(':')) {
                        return err("aliases are not supported");
                    }
                    let mut arguments = Vec::new();
                    if self.peek() == Some(&Token::Punct('(')) {
                        self.next();
                        loop {
                            match self.next() {
                                Some(Token::Punct(')')) if !arguments.is_empty() => break,
                                Some(Token::Name(arg)) => {
                                    self.expect(':')?;
                                    match self.next() {
                                        Some(Token::Str(value)) => arguments.push((arg, value)),
                                        _ => return err(format!("argument `{arg}` must be a \"string\"")),
                                    }
                                }
                                _ => return err("expected an argument name or `)`"),
                            }
                        }
                    }
                    let selection = if self.peek() == Some(&Token::Punct('{')) {
                        self.selection_set(depth + 1)?
                    } else {
                        Vec::new()
                    };
                    fields.push(Field { name, arguments, selection });
                }
                _ => return err("expected a field name or `}`"),
            }
        }
    }
}

/// Parses a document of one query operation into its top-level fields.
pub fn parse_query(document: &str) -> Result<Vec<Field>, GraphqlError> {
    if document.len() > MAX_DOCUMENT_LEN {
        return err(format!("the query is longer than {MAX_DOCUMENT_LEN} bytes"));
    }
    let tokens = tokenize(document)?;
    let mut parser = Parser { tokens, at: 0, fields: 0 };
    match parser.peek() {
        Some(Token::Name(keyword)) if keyword == "query" => {
            parser.next();
            if let Some(Token::Name(_)) = parser.peek() {
                parser.next();
            }
            if parser.peek() == Some(&Token::Punct('(')) {
                return err("variables are not supported; write the value into the query");
            }
        }
        Some(Token::Name(keyword)) if keyword == "mutation" || keyword == "subscription" => {
            return err(format!("{keyword} operations are not supported; send a query"));
        }
        Some(Token::Punct('{')) => {}
        _ => return err("expected a query"),
    }
    let fields = parser.selection_set(1)?;
    if parser.peek().is_some() {
        return err("only one operation per document is supported");
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_account_access_check_parses() {
        let q = r#"query full_customer_universe { customerUniverse(rbacAccountId: "a-1") { subscriber { tags } } }"#;
        let fields = parse_query(q).unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].name, "customerUniverse");
        assert_eq!(fields[0].argument("rbacAccountId"), Some("a-1"));
        assert_eq!(fields[0].selection[0].name, "subscriber");
        assert_eq!(fields[0].selection[0].selection[0].name, "tags");
        assert!(fields[0].selection[0].selection[0].selection.is_empty());
    }

    #[test]
    fn bare_selection_sets_comments_and_escapes() {
        let fields = parse_query("# hi\n{ a(x: \"q\\\"\\u0041\") b }").unwrap();
        assert_eq!(fields[0].argument("x"), Some("q\"A"));
        assert_eq!(fields[1].name, "b");
        assert_eq!(parse_query(r#"{ a(x: "") }"#).unwrap()[0].argument("x"), Some(""));
    }

    #[test]
    fn what_is_not_supported_is_refused_with_a_reason() {
        for (q, why) in [
            ("query($id: String) { a }", "variables"),
            ("{ a(x: $id) }", "variables"),
            ("mutation { a }", "mutation"),
            ("{ ...F }", "fragments"),
            ("{ a @skip }", "directives"),
            ("{ b: a }", "aliases"),
            ("{ a(x: 1) }", "string"),
            ("{ a(x: \"open) }", "unterminated"),
            ("{ }", "at least one"),
            ("{ a } { b }", "one operation"),
            ("{ a", "expected"),
            ("", "expected a query"),
        ] {
            let e = parse_query(q).unwrap_err();
            assert!(e.0.contains(why), "{q}: {e}");
        }
    }

    #[test]
    fn nesting_length_and_width_are_bounded() {
        let deep = format!("{}{}", "{ a ".repeat(MAX_DEPTH + 1), "}".repeat(MAX_DEPTH + 1));
        assert!(parse_query(&deep).unwrap_err().0.contains("deeper"));
        let ok = format!("{}{}", "{ a ".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert!(parse_query(&ok).is_ok());
        let wide = format!("{{ {} }}", "a ".repeat(MAX_FIELDS + 1));
        assert!(parse_query(&wide).unwrap_err().0.contains("more than"));
        let long = format!("{{ a(x: \"{}\") }}", "x".repeat(MAX_DOCUMENT_LEN));
        assert!(parse_query(&long).unwrap_err().0.contains("longer"));
    }
}
