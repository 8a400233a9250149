//! Property tests of the credentials document (rendering a parsed file
//! gives back its bytes, and an edit changes only its own line) and of the
//! SDK's untrusted-input parsers (SECURITY.md I01).

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use komodo::auth::{TokenState, format_time, from_unix_seconds, jwt_expiry};
use komodo::credentials::Document;
use komodo_protocol::secret::AccessToken;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_.-]{0,11}"
}

fn value() -> impl Strategy<Value = String> {
    // Anything printable on one line, including `%`, `=`, `:`, `;` and `#`.
    "[ -~]{0,24}".prop_map(|v| v.trim().to_owned())
}

fn spacing() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("  "), Just("\t")]
}

fn ending() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just("\n"), 1 => Just("\r\n")]
}

/// One line of a well-formed file, as its text; `None` marks a section
/// header position (filled in with a unique name).
#[derive(Debug, Clone)]
enum Line {
    Blank(&'static str),
    Comment(&'static str, String),
    Section(&'static str, String, &'static str),
    Property(&'static str, String, &'static str, char, &'static str, String),
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        1 => spacing().prop_map(Line::Blank),
        1 => (prop_oneof![Just("#"), Just(";")], value()).prop_map(|(p, v)| Line::Comment(p, v)),
        1 => (spacing(), name(), prop_oneof![Just(""), Just(" # note"), Just(" ;x")])
            .prop_map(|(s, n, c)| Line::Section(s, n, c)),
        4 => (spacing(), name(), spacing(), prop_oneof![Just('='), Just(':')], spacing(), value())
            .prop_map(|(a, k, b, d, c, v)| Line::Property(a, k, b, d, c, v)),
    ]
}

/// A well-formed document: unique sections, unique keys per section, and
/// no property before the first header.
fn document() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec((line(), ending()), 0..40), any::<bool>()).prop_map(
        |(bom, lines, last_ending)| {
            let mut out = String::new();
            if bom {
                out.push('\u{feff}');
            }
            let mut section = 0usize;
            let mut key = 0usize;
            let count = lines.len();
            for (i, (line, ending)) in lines.into_iter().enumerate() {
                match line {
                    Line::Blank(s) => out.push_str(s),
                    Line::Comment(p, v) => out.push_str(&format!("{p} {v}")),
                    Line::Section(s, n, c) => {
                        section += 1;
                        key = 0;
                        out.push_str(&format!("{s}[{n}-{section}]{c}"));
                    }
                    Line::Property(a, k, b, d, c, v) => {
                        if section == 0 {
                            section += 1;
                            out.push_str(&format!("[s{section}]{ending}"));
                        }
                        key += 1;
                        out.push_str(&format!("{a}{k}-{key}{b}{d}{c}{v}"));
                    }
                }
                if i + 1 < count || last_ending {
                    out.push_str(ending);
                }
            }
            out
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_then_render_is_the_identity(text in document()) {
        let doc = Document::parse(&text).unwrap();
        prop_assert_eq!(doc.render(), text);
    }

    #[test]
    fn any_text_that_parses_renders_back_exactly(text in "(\\[[a-z]{1,3}\\]|[a-z]{1,3} ?[=:] ?[ -~]{0,5}|#[ -~]{0,5}| ?|\r)(\r?\n(\\[[a-z]{1,3}\\]|[a-z]{1,3} ?[=:] ?[ -~]{0,5}|#[ -~]{0,5}| ?))*") {
        if let Ok(doc) = Document::parse(&text) {
            prop_assert_eq!(doc.render(), text);
        }
    }

    #[test]
    fn setting_a_key_changes_only_its_line(text in document(), pick in any::<prop::sample::Index>(), new in value()) {
        let mut doc = Document::parse(&text).unwrap();
        let targets: Vec<(String, String, usize)> = doc
            .section_names()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|s| {
                let entries: Vec<_> = doc.section(&s).unwrap().entries().map(|(k, _, l)| (k.to_owned(), l)).collect();
                entries.into_iter().map(move |(k, l)| (s.clone(), k, l))
            })
            .collect();
        prop_assume!(!targets.is_empty());
        let (section, key, line) = pick.get(&targets).clone();
        doc.set(&section, &key, &new).unwrap();
        prop_assert_eq!(doc.get(&section, &key), Some(new.as_str()));
        let before: Vec<&str> = text.split('\n').collect();
        let rendered = doc.render();
        let after: Vec<&str> = rendered.split('\n').collect();
        prop_assert_eq!(before.len(), after.len());
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            if i + 1 != line {
                prop_assert_eq!(b, a, "line {} changed", i + 1);
            }
        }
        // And the edit reads back from the rendered text.
        let reparsed = Document::parse(&rendered).unwrap();
        prop_assert_eq!(reparsed.get(&section, &key), Some(new.as_str()));
    }

    /// SECURITY.md I01 for the credentials file (the fuzz target in
    /// `fuzz/fuzz_targets/credentials.rs` explores the same function).
    #[test]
    fn i01_credentials_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(doc) = Document::parse_bytes(&bytes) {
            let rendered = doc.render();
            prop_assert_eq!(rendered.as_bytes(), &bytes[..]);
        }
    }

    /// SECURITY.md I01 for the SDK's reading of JWTs (`jwt_expiry`, which
    /// reads `exp` from tokens found in the environment, the credentials
    /// file or a token response, and `from_unix_seconds` for a stored
    /// `token_expiration`): arbitrary text, and tokens whose claims are
    /// valid base64url of JSON with any `exp`, never panic (the fuzz
    /// target `fuzz/fuzz_targets/jwt.rs` explores the same functions).
    #[test]
    fn i01_sdk_jwt_expiry_never_panics(
        junk in ".{0,120}",
        exp in prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("18446744073709551616".to_owned()),
            Just("1e300".to_owned()),
            Just("-0".to_owned()),
            Just("\"1700000000\"".to_owned()),
            Just("null".to_owned()),
            Just("[1]".to_owned()),
            Just("{\"exp\":1}".to_owned()),
        ],
        cut in 0usize..200,
        seconds in any::<u64>(),
    ) {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let _ = jwt_expiry(&AccessToken::new(junk.clone()));
        let token = format!("{}.{}.{}", b64(r#"{"alg":"ES256"}"#), b64(&format!(r#"{{"exp":{exp}}}"#)), b64(&junk));
        let expiry = jwt_expiry(&AccessToken::new(token.clone()));
        if let Ok(n) = exp.parse::<u64>() {
            prop_assert_eq!(expiry, Some(from_unix_seconds(n)));
        }
        // Truncated anywhere, even inside a base64 group or a UTF-8 sequence.
        let cut = token.char_indices().nth(cut).map_or(token.len(), |(i, _)| i);
        let _ = jwt_expiry(&AccessToken::new(token[..cut].to_owned()));
        let at = from_unix_seconds(seconds);
        let _ = (format_time(at), TokenState::at(Some(at), SystemTime::now()));
    }
}
