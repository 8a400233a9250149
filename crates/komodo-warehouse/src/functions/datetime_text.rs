//! Dates and timestamps read from text as Snowflake reads them: the
//! formats its `AUTO` detection knows, integers as epoch times, and
//! Snowflake's format models (`'DD/MM/YYYY HH24:MI:SS'`).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

/// A date or timestamp read from text, with the offset it named if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The wall-clock date and time as written.
    pub(crate) local: NaiveDateTime,
    /// The offset from UTC the text named (`+02:00`, `Z`), in seconds.
    pub(crate) offset: Option<i32>,
}

impl Parsed {
    /// The instant, reading a text without an offset as UTC (the
    /// warehouse's session time zone).
    pub(crate) fn utc(&self) -> NaiveDateTime {
        match self.offset {
            Some(o) => self.local - TimeDelta::seconds(i64::from(o)),
            None => self.local,
        }
    }
}

/// The thresholds by which an integer counts seconds, milliseconds,
/// microseconds or nanoseconds since the epoch (Snowflake's rule: below
/// 31 536 000 000, the number of milliseconds in a year, seconds; ...).
pub(crate) fn epoch_nanos_by_magnitude(v: i64) -> Option<i64> {
    const YEAR_MILLIS: i64 = 31_536_000_000;
    if v < YEAR_MILLIS {
        v.checked_mul(1_000_000_000)
    } else if v < YEAR_MILLIS * 1_000 {
        v.checked_mul(1_000_000)
    } else if v < YEAR_MILLIS * 1_000_000 {
        v.checked_mul(1_000)
    } else {
        Some(v)
    }
}

/// A date or timestamp in one of the formats Snowflake detects
/// automatically: `YYYY-MM-DD`, `DD-MON-YYYY` or `MM/DD/YYYY`, optionally
/// followed (after a space or `T`) by `HH24:MI[:SS[.FFFFFFFFF]]` and an
/// offset (`Z`, `+HH`, `+HHMM`, `+HH:MM`); or an integer, seconds,
/// milliseconds, microseconds or nanoseconds since the epoch by its
/// magnitude.
pub(crate) fn parse_auto(text: &str) -> Option<Parsed> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().enumerate().all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-')) {
        let v: i64 = text.parse().ok()?;
        let nanos = epoch_nanos_by_magnitude(v)?;
        return Some(Parsed { local: chrono::DateTime::from_timestamp_nanos(nanos).naive_utc(), offset: None });
    }
    let mut c = Cursor { rest: text };
    let date = c.date()?;
    if c.rest.is_empty() {
        return Some(Parsed { local: date.and_time(NaiveTime::MIN), offset: None });
    }
    if !(c.eat("T") || c.eat(" ")) {
        return None;
    }
    c.skip_spaces();
    let time = c.time()?;
    c.skip_spaces();
    let offset = c.offset();
    c.skip_spaces();
    if !c.rest.is_empty() {
        return None;
    }
    Some(Parsed { local: date.and_time(time), offset })
}

struct Cursor<'a> {
    rest: &'a str,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const MONTH_NAMES: [&str; 12] = [
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
];
const DAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
const DAY_NAMES: [&str; 7] = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

impl Cursor<'_> {
    fn eat(&mut self, s: &str) -> bool {
        match self.rest.get(..s.len()) {
            Some(head) if head.eq_ignore_ascii_case(s) => {
                self.rest = &self.rest[s.len()..];
                true
            }
            _ => false,
        }
    }

    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start();
    }

    /// Between `min` and `max` digits.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let n = self.rest.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return None;
        }
        let v = self.rest[..n].parse().ok()?;
        self.rest = &self.rest[n..];
        Some(v)
    }

    /// A month name or abbreviation, 1-based.
    fn month_name(&mut self) -> Option<u32> {
        for (i, name) in MONTH_NAMES.iter().enumerate() {
            if self.eat(name) {
                return u32::try_from(i + 1).ok();
            }
        }
        for (i, name) in MONTHS.iter().enumerate() {
            if self.eat(name) {
                return u32::try_from(i + 1).ok();
            }
        }
        None
    }

    fn day_name(&mut self) -> bool {
        DAY_NAMES.iter().any(|name| self.eat(name)) || DAYS.iter().any(|name| self.eat(name))
    }

    fn date(&mut self) -> Option<NaiveDate> {
        let start = self.rest;
        if let Some(y) = self.number(4, 4)
            && self.eat("-")
        {
            let m = self.number(1, 2)?;
            if !self.eat("-") {
                return None;
            }
            let d = self.number(1, 2)?;
            return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d);
        }
        self.rest = start;
        let first = self.number(1, 2)?;
        if self.eat("-") {
            let m = self.month_name()?;
            if !self.eat("-") {
                return None;
            }
            let y = self.number(4, 4)?;
            return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, first);
        }
        if self.eat("/") {
            let d = self.number(1, 2)?;
            if !self.eat("/") {
                return None;
            }
            let y = self.number(4, 4)?;
            return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, first, d);
        }
        None
    }

    fn time(&mut self) -> Option<NaiveTime> {
        let h = self.number(1, 2)?;
        if !self.eat(":") {
            return None;
        }
        let m = self.number(2, 2)?;
        let (s, nanos) = if self.eat(":") {
            let s = self.number(2, 2)?;
            let nanos = if self.eat(".") || self.eat(",") { self.fraction()? } else { 0 };
            (s, nanos)
        } else {
            (0, 0)
        };
        NaiveTime::from_hms_nano_opt(h, m, s, nanos)
    }

    /// Up to nine fraction digits as nanoseconds (further digits are
    /// dropped).
    fn fraction(&mut self) -> Option<u32> {
        let n = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let digits = &self.rest[..n.min(9)];
        let nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - u32::try_from(digits.len()).ok()?);
        self.rest = &self.rest[n..];
        Some(nanos)
    }

    /// `Z`, `+HH`, `+HHMM` or `+HH:MM`; `None` when there is none.
    fn offset(&mut self) -> Option<i32> {
        if self.eat("Z") || self.eat("UTC") || self.eat("GMT") {
            return Some(0);
        }
        let sign = if self.eat("+") {
            1
        } else if self.eat("-") {
            -1
        } else {
            return None;
        };
        let h = i32::try_from(self.number(2, 2)?).ok()?;
        self.eat(":");
        let m = self.number(2, 2).map_or(0, |m| i32::try_from(m).unwrap_or(0));
        Some(sign * (h * 3600 + m * 60))
    }
}

/// One element of a Snowflake date and time format model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    Year4,
    Year2,
    Month,
    MonthAbbreviation,
    MonthName,
    Day,
    DayAbbreviation,
    Hour24,
    Hour12,
    Meridian,
    Minute,
    Second,
    Fraction,
    OffsetHours,
    OffsetMinutes,
    Literal(String),
}

/// Splits a format model into elements; element names are read in any
/// case, text in double quotes is literal.
fn elements(format: &str) -> Vec<Element> {
    const NAMES: &[(&str, Element)] = &[
        ("YYYY", Element::Year4),
        ("HH24", Element::Hour24),
        ("HH12", Element::Hour12),
        ("MMMM", Element::MonthName),
        ("MON", Element::MonthAbbreviation),
        ("TZH", Element::OffsetHours),
        ("TZM", Element::OffsetMinutes),
        ("YY", Element::Year2),
        ("MM", Element::Month),
        ("DD", Element::Day),
        ("DY", Element::DayAbbreviation),
        ("HH", Element::Hour12),
        ("MI", Element::Minute),
        ("SS", Element::Second),
        ("AM", Element::Meridian),
        ("PM", Element::Meridian),
        ("FF", Element::Fraction),
    ];
    let mut out = Vec::new();
    let mut rest = format;
    'next: while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            out.push(Element::Literal(quoted[..end].to_owned()));
            rest = quoted.get(end + 1..).unwrap_or("");
            continue;
        }
        for (name, element) in NAMES {
            if rest.get(..name.len()).is_some_and(|h| h.eq_ignore_ascii_case(name)) {
                rest = &rest[name.len()..];
                if *element == Element::Fraction {
                    // FF, FF0 ... FF9: the digits are read as they come.
                    rest = rest.strip_prefix(|c: char| c.is_ascii_digit()).unwrap_or(rest);
                }
                out.push(element.clone());
                continue 'next;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(Element::Literal(c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `text` read with a Snowflake format model; `None` when it does not
/// fit. Missing parts default to 1970-01-01 00:00:00.
pub(crate) fn parse_with_format(text: &str, format: &str) -> Option<Parsed> {
    let mut c = Cursor { rest: text.trim() };
    let (mut year, mut month, mut day) = (1970i32, 1u32, 1u32);
    let (mut hour, mut minute, mut second, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut pm = None;
    let mut offset: Option<i32> = None;
    for element in elements(format.trim()) {
        match element {
            Element::Year4 => year = i32::try_from(c.number(1, 4)?).ok()?,
            Element::Year2 => {
                let y = i32::try_from(c.number(2, 2)?).ok()?;
                year = if y < 70 { 2000 + y } else { 1900 + y };
            }
            Element::Month => month = c.number(1, 2)?,
            Element::MonthAbbreviation | Element::MonthName => month = c.month_name()?,
            Element::Day => day = c.number(1, 2)?,
            Element::DayAbbreviation => {
                if !c.day_name() {
                    return None;
                }
            }
            Element::Hour24 => hour = c.number(1, 2)?,
            Element::Hour12 => hour = c.number(1, 2)?,
            Element::Meridian => {
                pm = Some(if c.eat("PM") {
                    true
                } else if c.eat("AM") {
                    false
                } else {
                    return None;
                });
            }
            Element::Minute => minute = c.number(1, 2)?,
            Element::Second => second = c.number(1, 2)?,
            Element::Fraction => nanos = c.fraction()?,
            Element::OffsetHours => {
                let sign = if c.eat("-") {
                    -1
                } else {
                    c.eat("+");
                    1
                };
                let h = i32::try_from(c.number(1, 2)?).ok()?;
                offset = Some(sign * h * 3600);
            }
            Element::OffsetMinutes => {
                let m = i32::try_from(c.number(2, 2)?).ok()?;
                let o = offset.unwrap_or(0);
                offset = Some(if o < 0 { o - m * 60 } else { o + m * 60 });
            }
            Element::Literal(l) => {
                if l.trim().is_empty() {
                    c.skip_spaces();
                } else if !c.eat(&l) {
                    return None;
                }
            }
        }
    }
    c.skip_spaces();
    if !c.rest.is_empty() {
        return None;
    }
    match pm {
        Some(true) if hour < 12 => hour += 12,
        Some(false) if hour == 12 => hour = 0,
        _ => {}
    }
    let local =
        NaiveDate::from_ymd_opt(year, month, day)?.and_time(NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?);
    Some(Parsed { local, offset })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn auto_formats() {
        assert_eq!(parse_auto("2024-01-02").unwrap().local, at("2024-01-02 00:00:00"));
        assert_eq!(parse_auto(" 2024-1-2 3:04:05.5 ").unwrap().local, at("2024-01-02 03:04:05.5"));
        assert_eq!(parse_auto("2024-01-02T03:04").unwrap().local, at("2024-01-02 03:04:00"));
        assert_eq!(parse_auto("02-Jan-2024").unwrap().local, at("2024-01-02 00:00:00"));
        assert_eq!(parse_auto("01/02/2024").unwrap().local, at("2024-01-02 00:00:00"));
        let p = parse_auto("2024-01-02 03:04:05 +02:00").unwrap();
        assert_eq!((p.local, p.offset), (at("2024-01-02 03:04:05"), Some(7200)));
        assert_eq!(p.utc(), at("2024-01-02 01:04:05"));
        assert_eq!(parse_auto("2024-01-02T03:04:05Z").unwrap().offset, Some(0));
        assert_eq!(parse_auto("2024-01-02 03:04:05-0130").unwrap().offset, Some(-5400));
        for bad in ["", "2024-13-01", "2024-02-30", "yesterday", "2024-01-02 25:00", "2024-01-02 x"] {
            assert_eq!(parse_auto(bad), None, "{bad}");
        }
    }

    #[test]
    fn integers_by_magnitude() {
        assert_eq!(parse_auto("31536000").unwrap().local, at("1971-01-01 00:00:00"));
        assert_eq!(parse_auto("31536000000").unwrap().local, at("1971-01-01 00:00:00"));
        assert_eq!(parse_auto("31536000000000").unwrap().local, at("1971-01-01 00:00:00"));
        assert_eq!(parse_auto("31536000000000000").unwrap().local, at("1971-01-01 00:00:00"));
        assert_eq!(parse_auto("-86400").unwrap().local, at("1969-12-31 00:00:00"));
    }

    #[test]
    fn format_models() {
        let p = |t: &str, f: &str| parse_with_format(t, f).map(|p| p.local);
        assert_eq!(p("02/01/2024", "DD/MM/YYYY"), Some(at("2024-01-02 00:00:00")));
        assert_eq!(p("04/05/2013 01:02:03", "mm/dd/yyyy hh24:mi:ss"), Some(at("2013-04-05 01:02:03")));
        assert_eq!(p("2013.04.05 01:02 PM", "YYYY.MM.DD HH12:MI AM"), Some(at("2013-04-05 13:02:00")));
        assert_eq!(p("5-jan-99", "DD-MON-YY"), Some(at("1999-01-05 00:00:00")));
        assert_eq!(p("12:00:00.123456789", "HH24:MI:SS.FF9"), Some(at("1970-01-01 12:00:00.123456789")));
        assert_eq!(p("2024 \"x\"", "YYYY \"x\""), None);
        assert_eq!(p("2024 x", "YYYY \"x\""), Some(at("2024-01-01 00:00:00")));
        assert_eq!(p("2024-01-32", "YYYY-MM-DD"), None);
        let tz = parse_with_format("2024-01-02 10:00 -05:30", "YYYY-MM-DD HH24:MI TZH:TZM").unwrap();
        assert_eq!(tz.offset, Some(-19800));
    }
}
