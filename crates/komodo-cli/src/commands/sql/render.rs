//! How `komodo sql` prints values: table cells, CSV fields (RFC 4180) and
//! JSON values.

use std::borrow::Cow;

use comfy_table::{ContentArrangement, Table, presets};
use komodo::warehouse::Value;

/// A table of a result set: a header of the column names, then the rows.
pub(crate) fn table(columns: &[String], rows: &[Vec<Value>]) -> String {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(columns);
    for row in rows {
        table.add_row(row.iter().map(ToString::to_string));
    }
    let text = table.to_string();
    text.lines().map(str::trim_end).collect::<Vec<_>>().join("\n")
}

/// One CSV record (without its line ending) of fields already encoded
/// by [`csv_value`] or [`csv_text`].
pub(crate) fn csv_record<'a>(fields: impl IntoIterator<Item = Cow<'a, str>>) -> String {
    fields.into_iter().collect::<Vec<_>>().join(",")
}

/// A value as a CSV field: NULL is an empty field and an empty string is
/// `""`, so that the two stay apart.
pub(crate) fn csv_value(value: &Value) -> Cow<'_, str> {
    match value {
        Value::Null => Cow::Borrowed(""),
        Value::Text(s) if s.is_empty() => Cow::Borrowed("\"\""),
        Value::Text(s) => csv_text(s),
        other => Cow::Owned(csv_text(&other.to_string()).into_owned()),
    }
}

/// Text as a CSV field (RFC 4180): quoted when it holds a comma, a quote
/// or a line break, its quotes doubled.
pub(crate) fn csv_text(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// A row as one JSON object on one line: `{"ID": 1, "NAME": "a"}`.
pub(crate) fn json_row(columns: &[String], row: &[Value]) -> String {
    let fields: Vec<String> =
        columns.iter().zip(row).map(|(name, value)| format!("{}: {}", json_string(name), json_value(value))).collect();
    format!("{{{}}}", fields.join(", "))
}

/// A value as JSON: numbers as numbers (decimals exactly as written),
/// NaN and infinities, bytes (hex), dates and times (ISO 8601) as strings.
pub(crate) fn json_value(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(v) => v.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Float(v) if v.is_finite() => {
            serde_json::Number::from_f64(*v).map_or_else(|| "null".into(), |n| n.to_string())
        }
        Value::Text(s) => json_string(s),
        other => json_string(&other.to_string()),
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use komodo::warehouse::Decimal;

    use super::*;

    #[test]
    fn csv_follows_rfc_4180_and_keeps_null_and_empty_apart() {
        let row = [
            Value::from("plain"),
            Value::from("a,b"),
            Value::from("say \"hi\""),
            Value::from("two\nlines"),
            Value::Null,
            Value::from(""),
            Value::from(-1.5),
            Value::Decimal(Decimal::new(1250, 2)),
            Value::from("\"\""),
        ];
        assert_eq!(
            csv_record(row.iter().map(csv_value)),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,\"\",-1.5,12.50,\"\"\"\"\"\""
        );
        assert_eq!(csv_record(["A", "B,C"].map(csv_text)), "A,\"B,C\"");
    }

    #[test]
    fn json_keeps_numbers_exact_and_everything_else_as_strings() {
        let columns = vec!["N".to_owned(), "D".to_owned(), "T".to_owned(), "X".to_owned(), "F".to_owned()];
        let row = [
            Value::Int(7),
            Value::Decimal(Decimal::new(-50, 2)),
            Value::from("q\"\n"),
            Value::Null,
            Value::Float(f64::NAN),
        ];
        let line = json_row(&columns, &row);
        assert_eq!(line, r#"{"N": 7, "D": -0.50, "T": "q\"\n", "X": null, "F": "NaN"}"#);
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["D"], serde_json::json!(-0.5));
        assert_eq!(json_value(&Value::Float(1.5)), "1.5");
        assert_eq!(json_value(&Value::Bool(true)), "true");
        assert_eq!(json_value(&Value::Binary(vec![1, 255])), "\"01ff\"");
    }

    #[test]
    fn tables_have_the_column_names_as_header() {
        let text = table(
            &["ID".into(), "name".into()],
            &[vec![Value::Int(1), Value::from("a")], vec![Value::Int(22), Value::Null]],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("ID") && lines[0].contains("name"), "{text}");
        assert!(lines[2].contains("22") && lines[2].contains("NULL"), "{text}");
    }
}
