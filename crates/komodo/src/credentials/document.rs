//! A format-preserving INI document: parse, query, edit in place, render.
//!
//! The grammar is the subset of Python's `configparser` that Komodo clients
//! write, read strictly:
//!
//! - `[name]` opens a section; every property belongs to one.
//! - `key = value` or `key: value`; the key and value are trimmed, and the
//!   value is literal (no interpolation: a `%` is just a `%`).
//! - Lines whose first non-blank character is `#` or `;` are comments.
//! - Keys compare case-insensitively (as `configparser` lowercases them);
//!   section names are case-sensitive.
//!
//! Rendering an unedited document gives back its exact bytes: comments,
//! blank lines, spacing, key order, unknown keys, a byte-order mark and each
//! line's own ending all survive. An edit rewrites only the line it touches.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Why a document could not be parsed; always names a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What is wrong with that line, and how to fix it.
    pub problem: Problem,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

/// The problems a line can have.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The bytes are not UTF-8.
    NotUtf8,
    /// A control character (other than tab) in the text.
    ControlCharacter(char),
    /// A property before the first section header.
    PropertyOutsideSection,
    /// A `[` without its closing `]`, or text after the `]`.
    MalformedSectionHeader,
    /// `[]`.
    EmptySectionName,
    /// The same section twice.
    DuplicateSection {
        /// The section's name.
        name: String,
        /// The line that first defined it.
        first_line: usize,
    },
    /// The same key twice in one section.
    DuplicateKey {
        /// The key.
        key: String,
        /// The section it is in.
        section: String,
        /// The line that first set it.
        first_line: usize,
    },
    /// A line that is neither a header, a property, a comment nor blank.
    NotAProperty,
    /// A property with nothing before its `=`.
    EmptyKey,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotUtf8 => f.write_str("the text is not valid UTF-8; the file may be binary or damaged"),
            Problem::ControlCharacter(c) => {
                write!(f, "unexpected control character U+{:04X}; the file may be binary or damaged", u32::from(*c))
            }
            Problem::PropertyOutsideSection => {
                f.write_str("property outside any section; add a section header such as `[default]` above it")
            }
            Problem::MalformedSectionHeader => {
                f.write_str("malformed section header; write it as `[name]` alone on its line")
            }
            Problem::EmptySectionName => f.write_str("empty section name `[]`; give the section a name"),
            Problem::DuplicateSection { name, first_line } => {
                write!(f, "section `[{name}]` is already defined on line {first_line}; merge or rename one of them")
            }
            Problem::DuplicateKey { key, section, first_line } => write!(
                f,
                "key `{key}` is already set in section `[{section}]` on line {first_line}; remove one of them"
            ),
            Problem::NotAProperty => f.write_str("expected `key = value`, a `[section]` header or a `#` comment"),
            Problem::EmptyKey => f.write_str("property with an empty key; write it as `key = value`"),
        }
    }
}

/// Why an edit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// A section name that cannot be written as a header.
    #[error("invalid section name {0:?}: use letters, digits, `-`, `_` or `.`")]
    InvalidSectionName(String),
    /// A key that cannot be written as a property.
    #[error("invalid key {0:?}: use letters, digits, `-`, `_` or `.`")]
    InvalidKey(String),
    /// A value that would not read back as written.
    #[error(
        "invalid value for `{key}`: it must be a single line without leading or trailing spaces or control characters"
    )]
    InvalidValue {
        /// The key being set.
        key: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    None,
    Lf,
    CrLf,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::None => "",
            Ending::Lf => "\n",
            Ending::CrLf => "\r\n",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Section { name: Range<usize> },
    Property { key: Range<usize>, value: Range<usize> },
}

/// A line's text: a span of the parsed source (no allocation per line),
/// or its own string once edited.
#[derive(Clone)]
enum Text {
    Shared(Arc<str>, Range<usize>),
    Owned(String),
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Text::Shared(source, range) => &source[range.clone()],
            Text::Owned(text) => text,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Text {}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({} bytes)", self.len())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: Text,
    ending: Ending,
    kind: Kind,
}

impl Line {
    fn section_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Section { name } => Some(&self.text[name.clone()]),
            _ => None,
        }
    }

    fn property(&self) -> Option<(&str, &str)> {
        match &self.kind {
            Kind::Property { key, value } => Some((&self.text[key.clone()], &self.text[value.clone()])),
            _ => None,
        }
    }
}

/// A parsed credentials document that renders back to its exact text.
///
/// `Debug` shows the section names and the line count, never values: the
/// document holds secrets.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Document {
    bom: bool,
    lines: Vec<Line>,
}

const BOM: char = '\u{feff}';

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("sections", &self.section_names().collect::<Vec<_>>())
            .field("lines", &self.lines.len())
            .finish()
    }
}

impl Document {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses raw bytes, rejecting text that is not UTF-8.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse(text),
            Err(err) => {
                let line = 1 + bytes[..err.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
                Err(ParseError { line, problem: Problem::NotUtf8 })
            }
        }
    }

    /// Parses text.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let (bom, mut rest) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let source: Arc<str> = Arc::from(rest);
        let base = rest.as_ptr() as usize;
        let mut lines = Vec::with_capacity(rest.len() / 24 + 1);
        // Header line number of each section seen so far, and the last one.
        let mut sections: HashMap<&str, usize> = HashMap::with_capacity(16);
        let mut current: Option<&str> = None;
        // (key, line number) of the current section's keys.
        let mut keys: Vec<(&str, usize)> = Vec::new();
        while !rest.is_empty() {
            let (raw, ending, next) = match rest.find('\n') {
                Some(i) if i > 0 && rest.as_bytes()[i - 1] == b'\r' => (&rest[..i - 1], Ending::CrLf, &rest[i + 1..]),
                Some(i) => (&rest[..i], Ending::Lf, &rest[i + 1..]),
                None => (rest, Ending::None, ""),
            };
            rest = next;
            let number = lines.len() + 1;
            let error = |problem| ParseError { line: number, problem };
            if let Some(c) = find_control(raw) {
                return Err(error(Problem::ControlCharacter(c)));
            }
            let kind = classify(raw).map_err(error)?;
            match &kind {
                Kind::Section { name } => {
                    let name = &raw[name.clone()];
                    if let Some(first_line) = sections.insert(name, number) {
                        return Err(error(Problem::DuplicateSection { name: name.to_owned(), first_line }));
                    }
                    current = Some(name);
                    keys.clear();
                }
                Kind::Property { key, .. } => {
                    let Some(section) = current else {
                        return Err(error(Problem::PropertyOutsideSection));
                    };
                    let key = &raw[key.clone()];
                    if let Some((_, first_line)) = keys.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                        return Err(error(Problem::DuplicateKey {
                            key: key.to_owned(),
                            section: section.to_owned(),
                            first_line: *first_line,
                        }));
                    }
                    keys.push((key, number));
                }
                Kind::Blank | Kind::Comment => {}
            }
            let start = raw.as_ptr() as usize - base;
            lines.push(Line { text: Text::Shared(source.clone(), start..start + raw.len()), ending, kind });
        }
        Ok(Self { bom, lines })
    }

    /// Renders the document to text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.text.len() + 2).sum::<usize>() + 3);
        if self.bom {
            out.push(BOM);
        }
        for line in &self.lines {
            out.push_str(&line.text);
            out.push_str(line.ending.as_str());
        }
        out
    }

    /// The names of every section, in file order.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(Line::section_name)
    }

    /// Whether a section exists.
    pub fn has_section(&self, section: &str) -> bool {
        self.section_names().any(|n| n == section)
    }

    /// A section's properties as `(key, value, 1-based line)`, in file order;
    /// `None` when the section does not exist.
    pub fn section(&self, section: &str) -> Option<Section<'_>> {
        let (start, end) = self.section_span(section)?;
        Some(Section { name_line: start + 1, lines: &self.lines[start + 1..end], first_line: start + 2 })
    }

    /// The value of `key` in `section`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.section(section)?.get(key)
    }

    /// Sets `key` to `value` in `section`, creating either if needed.
    ///
    /// An existing key keeps its line, spelling and spacing: only the value
    /// changes. A new key goes after the section's last property; a new
    /// section goes at the end of the document, after a blank line.
    /// Returns whether the document changed.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> Result<bool, EditError> {
        validate_name(section).map_err(|()| EditError::InvalidSectionName(section.to_owned()))?;
        validate_name(key).map_err(|()| EditError::InvalidKey(key.to_owned()))?;
        if value.chars().any(char::is_control) || value.trim() != value {
            return Err(EditError::InvalidValue { key: key.to_owned() });
        }
        let ending = self.dominant_ending();
        match self.section_span(section) {
            Some((start, end)) => {
                if let Some(index) = self.key_index(start, end, key) {
                    let line = &mut self.lines[index];
                    let Kind::Property { key: key_range, value: range } = line.kind.clone() else {
                        unreachable!("key_index only returns property lines")
                    };
                    if &line.text[range.clone()] == value {
                        return Ok(false);
                    }
                    let mut text = String::with_capacity(line.text.len() + value.len());
                    text.push_str(&line.text[..range.start]);
                    if range.is_empty() && !text.ends_with(' ') && line.text[key_range.end..].contains(' ') {
                        text.push(' ');
                    }
                    let value_start = text.len();
                    text.push_str(value);
                    text.push_str(&line.text[range.end..]);
                    line.kind = Kind::Property { key: key_range, value: value_start..value_start + value.len() };
                    line.text = Text::Owned(text);
                } else {
                    let at = self.lines[start..end]
                        .iter()
                        .rposition(|l| matches!(l.kind, Kind::Property { .. } | Kind::Section { .. }))
                        .map_or(end, |i| start + i + 1);
                    self.ensure_terminated(at);
                    let line_ending = if at == self.lines.len() { Ending::None } else { ending };
                    self.lines.insert(at, property_line(key, value, line_ending));
                    if at == self.lines.len() - 1 && ending != Ending::None {
                        self.lines[at].ending = ending;
                    }
                }
            }
            None => {
                let ending = if ending == Ending::None { Ending::Lf } else { ending };
                let len = self.lines.len();
                self.ensure_terminated(len);
                if self.lines.last().is_some_and(|l| l.kind != Kind::Blank) {
                    self.lines.push(Line { text: Text::Owned(String::new()), ending, kind: Kind::Blank });
                }
                let text = format!("[{section}]");
                let name = 1..1 + section.len();
                self.lines.push(Line { text: Text::Owned(text), ending, kind: Kind::Section { name } });
                self.lines.push(property_line(key, value, ending));
            }
        }
        Ok(true)
    }

    /// Removes `key` from `section`. Returns whether it was there.
    pub fn remove(&mut self, section: &str, key: &str) -> bool {
        let Some((start, end)) = self.section_span(section) else { return false };
        match self.key_index(start, end, key) {
            Some(index) => {
                let removed = self.lines.remove(index);
                if removed.ending == Ending::None && index > 0 {
                    self.lines[index - 1].ending = Ending::None;
                }
                true
            }
            None => false,
        }
    }

    /// Removes a whole section: its header and every line up to the next
    /// header. Returns whether it was there.
    pub fn remove_section(&mut self, section: &str) -> bool {
        let Some((start, end)) = self.section_span(section) else { return false };
        self.lines.drain(start..end);
        true
    }

    /// Line range `[header, next header)` of a section.
    fn section_span(&self, section: &str) -> Option<(usize, usize)> {
        let start = self.lines.iter().position(|l| l.section_name() == Some(section))?;
        let end = self.lines[start + 1..]
            .iter()
            .position(|l| matches!(l.kind, Kind::Section { .. }))
            .map_or(self.lines.len(), |i| start + 1 + i);
        Some((start, end))
    }

    fn key_index(&self, start: usize, end: usize, key: &str) -> Option<usize> {
        (start + 1..end).find(|&i| self.lines[i].property().is_some_and(|(k, _)| k.eq_ignore_ascii_case(key)))
    }

    fn dominant_ending(&self) -> Ending {
        self.lines.iter().map(|l| l.ending).find(|e| *e != Ending::None).unwrap_or(Ending::None)
    }

    /// Gives the line before `at` an ending, so a line can be inserted at `at`.
    fn ensure_terminated(&mut self, at: usize) {
        let ending = match self.dominant_ending() {
            Ending::None => Ending::Lf,
            e => e,
        };
        if at > 0 && self.lines[at - 1].ending == Ending::None {
            self.lines[at - 1].ending = ending;
        }
    }
}

/// A section's properties, borrowed from a [`Document`].
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    name_line: usize,
    lines: &'a [Line],
    first_line: usize,
}

impl<'a> Section<'a> {
    /// The 1-based line of the section's header.
    pub fn header_line(&self) -> usize {
        self.name_line
    }

    /// The value of a key (compared case-insensitively).
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entry(key).map(|(_, value, _)| value)
    }

    /// A key's `(key as written, value, 1-based line)`.
    pub fn entry(&self, key: &str) -> Option<(&'a str, &'a str, usize)> {
        self.entries().find(|(k, _, _)| k.eq_ignore_ascii_case(key))
    }

    /// Every property as `(key, value, 1-based line)`, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a str, usize)> + 'a {
        let first_line = self.first_line;
        self.lines.iter().enumerate().filter_map(move |(i, line)| line.property().map(|(k, v)| (k, v, first_line + i)))
    }
}

/// The first control character other than tab, if any; checks bytes first,
/// since nearly every line is plain ASCII.
fn find_control(raw: &str) -> Option<char> {
    // A branch-free fold, so the compiler can vectorise the common case.
    let unusual = raw.as_bytes().iter().fold(false, |acc, &b| acc | ((b < 0x20 && b != b'\t') | (b >= 0x7f)));
    if !unusual {
        return None;
    }
    raw.chars().find(|&c| c.is_control() && c != '\t')
}

fn classify(raw: &str) -> Result<Kind, Problem> {
    let trimmed = raw.trim_ascii_start();
    let indent = raw.len() - trimmed.len();
    let trimmed = trimmed.trim_ascii_end();
    if trimmed.is_empty() {
        return Ok(Kind::Blank);
    }
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return Ok(Kind::Comment);
    }
    if let Some(inner) = trimmed.strip_prefix('[') {
        let Some(close) = inner.bytes().position(|b| b == b']') else { return Err(Problem::MalformedSectionHeader) };
        // Like configparser, allow a comment after the header (the seed's
        // example annotates `[default]` this way); anything else is an error.
        let after = inner[close + 1..].trim_ascii_start();
        if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
            return Err(Problem::MalformedSectionHeader);
        }
        let name = &inner[..close];
        let name_trimmed = name.trim_ascii();
        if name_trimmed.is_empty() {
            return Err(Problem::EmptySectionName);
        }
        let start = indent + 1 + (name.len() - name.trim_ascii_start().len());
        return Ok(Kind::Section { name: start..start + name_trimmed.len() });
    }
    let Some(delimiter) = trimmed.bytes().position(|b| b == b'=' || b == b':') else {
        return Err(Problem::NotAProperty);
    };
    let key = trimmed[..delimiter].trim_ascii_end();
    if key.is_empty() {
        return Err(Problem::EmptyKey);
    }
    let after = &trimmed[delimiter + 1..];
    let value = after.trim_ascii_start();
    let value_start = indent + delimiter + 1 + (after.len() - value.len());
    Ok(Kind::Property { key: indent..indent + key.len(), value: value_start..value_start + value.len() })
}

fn validate_name(name: &str) -> Result<(), ()> {
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(()) }
}

fn property_line(key: &str, value: &str, ending: Ending) -> Line {
    let text = if value.is_empty() { format!("{key} =") } else { format!("{key} = {value}") };
    let value_start = key.len() + 3;
    let value = if value.is_empty() { text.len()..text.len() } else { value_start..text.len() };
    Line { text: Text::Owned(text), ending, kind: Kind::Property { key: 0..key.len(), value } }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "\
[default] # Created by `komodo login` and `komodo account set`
token = eyJ0eXAiOiJKV1QiLCJhbGc...
token_expiration = 1234567890
account_id = 123e4567-e89b-12d3-a456-426614174000
account_slug = my-organization
[production]
client_id = client_id_123456
client_secret = client_secret_123456
account_id = 123456789
account_slug = prod-org
";

    fn seed() -> Document {
        Document::parse(SEED).unwrap()
    }

    #[test]
    fn seed_example_parses_with_its_header_comment() {
        assert_eq!(seed().render(), SEED);
        assert_eq!(seed().section("default").unwrap().header_line(), 1);
        let err = Document::parse("[a] b\n").unwrap_err();
        assert_eq!(err.problem, Problem::MalformedSectionHeader);
    }

    #[test]
    fn reads_values_and_lines() {
        let doc = seed();
        assert_eq!(doc.section_names().collect::<Vec<_>>(), ["default", "production"]);
        assert_eq!(doc.get("production", "client_id"), Some("client_id_123456"));
        assert_eq!(doc.get("production", "CLIENT_ID"), Some("client_id_123456"));
        assert_eq!(doc.section("default").unwrap().entry("account_slug"), Some(("account_slug", "my-organization", 5)));
        assert_eq!(doc.get("staging", "client_id"), None);
    }

    #[test]
    fn values_are_literal() {
        let doc = Document::parse("[p]\nclient_secret = a%b%%c=d:e ; not a comment\n").unwrap();
        assert_eq!(doc.get("p", "client_secret"), Some("a%b%%c=d:e ; not a comment"));
    }

    #[test]
    fn set_existing_key_keeps_spacing() {
        let mut doc = Document::parse("[default]\n  token=old   # x\n").unwrap();
        assert_eq!(doc.get("default", "token"), Some("old   # x"));
        let mut doc2 = Document::parse("[default]\ntoken:old\r\n").unwrap();
        assert!(doc2.set("default", "token", "new").unwrap());
        assert_eq!(doc2.render(), "[default]\ntoken:new\r\n");
        assert!(doc.set("default", "token", "new").unwrap());
        assert_eq!(doc.render(), "[default]\n  token=new\n");
    }

    #[test]
    fn set_new_key_goes_after_last_property() {
        let mut doc = Document::parse("# top\n[a]\nx = 1\n\n# about b\n[b]\ny = 2").unwrap();
        doc.set("a", "z", "3").unwrap();
        doc.set("b", "w", "4").unwrap();
        doc.set("c", "v", "5").unwrap();
        assert_eq!(doc.render(), "# top\n[a]\nx = 1\nz = 3\n\n# about b\n[b]\ny = 2\nw = 4\n\n[c]\nv = 5\n");
    }

    #[test]
    fn set_into_empty_document_and_empty_value() {
        let mut doc = Document::new();
        doc.set("default", "token", "t").unwrap();
        doc.set("default", "account_slug", "").unwrap();
        assert_eq!(doc.render(), "[default]\ntoken = t\naccount_slug =\n");
        assert_eq!(Document::parse(&doc.render()).unwrap(), doc);
        doc.set("default", "account_slug", "s").unwrap();
        assert_eq!(doc.render(), "[default]\ntoken = t\naccount_slug = s\n");
    }

    #[test]
    fn set_unchanged_value_reports_no_change() {
        let mut doc = seed();
        assert!(!doc.set("production", "account_id", "123456789").unwrap());
    }

    #[test]
    fn set_rejects_values_that_would_not_read_back() {
        let mut doc = seed();
        for bad in ["two\nlines", " padded", "bell\u{7}"] {
            assert!(matches!(doc.set("default", "token", bad), Err(EditError::InvalidValue { .. })));
        }
        assert!(matches!(doc.set("a]b", "k", "v"), Err(EditError::InvalidSectionName(_))));
        assert!(matches!(doc.set("a", "k=v", "v"), Err(EditError::InvalidKey(_))));
        assert_eq!(doc, seed());
    }

    #[test]
    fn remove_key_and_section() {
        let mut doc = Document::parse("[a]\nx = 1\ny = 2\n\n[b]\nz = 3").unwrap();
        assert!(doc.remove("a", "X"));
        assert!(!doc.remove("a", "x"));
        assert!(doc.remove("b", "z"));
        assert_eq!(doc.render(), "[a]\ny = 2\n\n[b]");
        assert!(doc.remove_section("a"));
        assert_eq!(doc.render(), "[b]");
    }

    #[test]
    fn malformed_documents_name_the_line() {
        let cases: &[(&str, usize, Problem)] = &[
            ("token = x\n", 1, Problem::PropertyOutsideSection),
            ("[a]\nx = 1\n[a]\n", 3, Problem::DuplicateSection { name: "a".into(), first_line: 1 }),
            (
                "[a]\nx = 1\n# c\nX = 2\n",
                4,
                Problem::DuplicateKey { key: "X".into(), section: "a".into(), first_line: 2 },
            ),
            ("[a]\njust words\n", 2, Problem::NotAProperty),
            ("[a\n", 1, Problem::MalformedSectionHeader),
            ("[]\n", 1, Problem::EmptySectionName),
            ("[a]\n= v\n", 2, Problem::EmptyKey),
            ("[a]\nx = \u{0}\u{1}\n", 2, Problem::ControlCharacter('\u{0}')),
        ];
        for (text, line, problem) in cases {
            let err = Document::parse(text).unwrap_err();
            assert_eq!((&err.line, &err.problem), (line, problem), "{text:?}");
        }
        let err = Document::parse_bytes(b"[a]\nx = \xff\xfe\n").unwrap_err();
        assert_eq!((err.line, err.problem), (2, Problem::NotUtf8));
    }

    #[test]
    fn bom_and_crlf_survive() {
        let text = "\u{feff}[a]\r\nx = 1\r\n";
        let mut doc = Document::parse(text).unwrap();
        assert_eq!(doc.render(), text);
        doc.set("b", "y", "2").unwrap();
        assert_eq!(doc.render(), "\u{feff}[a]\r\nx = 1\r\n\r\n[b]\r\ny = 2\r\n");
    }
}
