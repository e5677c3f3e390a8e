//! Units of measure: parsing quantities such as `300ms` or `2MiB`, checking
//! that a criterion's unit fits its metric's unit, and converting between
//! them. Units outside the known families (`req/s`, `ops`) are compared by
//! name only.

use std::fmt;

/// The family a unit belongs to; only units of one family convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// Seconds and its multiples.
    Time,
    /// Bytes and its multiples.
    Bytes,
    /// A ratio (`ratio`, `%`).
    Ratio,
    /// Anything else, compared by name (`req/s`, `count`).
    Other(String),
    /// No unit at all: a plain number.
    None,
}

/// A unit with the factor that converts it to its family's base unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub symbol: String,
    pub dimension: Dimension,
    pub factor: f64,
}

const TIME: &[(&str, f64)] = &[
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("sec", 1.0),
    ("min", 60.0),
    ("h", 3600.0),
    ("d", 86400.0),
];

const BYTES: &[(&str, f64)] = &[
    ("B", 1.0),
    ("KB", 1e3),
    ("MB", 1e6),
    ("GB", 1e9),
    ("TB", 1e12),
    ("KiB", 1024.0),
    ("MiB", 1048576.0),
    ("GiB", 1073741824.0),
    ("TiB", 1099511627776.0),
];

const RATIO: &[(&str, f64)] = &[("ratio", 1.0), ("%", 0.01)];

impl Unit {
    /// The unit a metric declares. Unknown symbols are accepted as their own
    /// family, since plugins measure things qod has never heard of.
    pub fn of_metric(symbol: Option<&str>) -> Unit {
        let symbol = symbol.unwrap_or("").trim();
        if symbol.is_empty() {
            return Unit {
                symbol: String::new(),
                dimension: Dimension::None,
                factor: 1.0,
            };
        }
        Self::known(symbol).unwrap_or_else(|| Unit {
            symbol: symbol.to_owned(),
            dimension: Dimension::Other(symbol.to_owned()),
            factor: 1.0,
        })
    }

    /// A unit from one of the known families, or `None`.
    pub fn known(symbol: &str) -> Option<Unit> {
        for (table, dim) in [
            (TIME, Dimension::Time),
            (BYTES, Dimension::Bytes),
            (RATIO, Dimension::Ratio),
        ] {
            if let Some((s, f)) = table.iter().find(|(s, _)| *s == symbol) {
                return Some(Unit {
                    symbol: (*s).to_owned(),
                    dimension: dim,
                    factor: *f,
                });
            }
        }
        None
    }

    /// The known unit a symbol most likely misspells (`msec`, `mS`, `secs`,
    /// `10%+`'s `%+`), or `None` when it is known or plausibly a unit of
    /// its own (`req/s`, `ops`).
    pub fn misspelt(symbol: &str) -> Option<&'static str> {
        if Self::known(symbol).is_some() {
            return None;
        }
        if symbol.contains('%') {
            return Some("%");
        }
        let lower = symbol.to_ascii_lowercase();
        const ALIASES: &[(&str, &str)] = &[
            ("msec", "ms"),
            ("msecs", "ms"),
            ("millis", "ms"),
            ("millisecond", "ms"),
            ("milliseconds", "ms"),
            ("usec", "us"),
            ("usecs", "us"),
            ("micros", "us"),
            ("microsecond", "us"),
            ("microseconds", "us"),
            ("nsec", "ns"),
            ("nsecs", "ns"),
            ("nanos", "ns"),
            ("nanosecond", "ns"),
            ("nanoseconds", "ns"),
            ("secs", "s"),
            ("second", "s"),
            ("seconds", "s"),
            ("mins", "min"),
            ("minute", "min"),
            ("minutes", "min"),
            ("hour", "h"),
            ("hours", "h"),
            ("hr", "h"),
            ("hrs", "h"),
            ("byte", "B"),
            ("bytes", "B"),
            ("percent", "%"),
        ];
        if let Some((_, to)) = ALIASES.iter().find(|(a, _)| *a == lower) {
            return Some(to);
        }
        // The right letters in the wrong case: `mS`, `MS`, `kib`.
        TIME.iter()
            .chain(BYTES)
            .chain(RATIO)
            .map(|(s, _)| *s)
            .find(|s| s.eq_ignore_ascii_case(symbol))
    }

    /// Converts `value` given in `self` into `to`, when both are of one family.
    pub fn convert(&self, value: f64, to: &Unit) -> Option<f64> {
        if self.dimension == to.dimension {
            Some(value * self.factor / to.factor)
        } else {
            None
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbol)
    }
}

/// A number with an optional unit symbol as written (`300ms`, `1.5`, `2 MiB`).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: Option<String>,
}

/// Splits `300ms` into `300` and `ms`. The unit is whatever follows the number.
pub fn parse_quantity(s: &str) -> Option<Quantity> {
    let s = s.trim();
    let end = s
        .char_indices()
        .find(|&(i, c)| {
            !(c.is_ascii_digit()
                || c == '.'
                || ((c == 'e' || c == 'E')
                    && s[i + 1..].starts_with(|n: char| n.is_ascii_digit() || n == '-')
                    && i > 0)
                || ((c == '-' || c == '+') && (i == 0 || s[..i].ends_with(['e', 'E']))))
        })
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let value: f64 = s[..end].parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let unit = s[end..].trim();
    Some(Quantity {
        value,
        unit: (!unit.is_empty()).then(|| unit.to_owned()),
    })
}

/// Formats a value for people: two decimals from 1 up, three significant
/// digits below, no trailing zeros.
pub fn format_value(value: f64) -> String {
    if value.abs() >= 1e15 || (value != 0.0 && value.abs() < 1e-6) {
        return format!("{value:.3e}");
    }
    let decimals = if value.abs() >= 1.0 || value == 0.0 {
        2
    } else {
        (-value.abs().log10().floor()) as usize + 2
    };
    let s = format!("{value:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// Formats a value with its unit (`47.5 s`, `3`, `12%`). A time below one
/// of its unit is shown in a smaller one (`0.0032 s` as `3.2 ms`).
pub fn format_with_unit(value: f64, unit: &str) -> String {
    const SMALLER: &[(&str, &str, f64)] = &[("s", "ms", 1e3), ("ms", "us", 1e3), ("us", "ns", 1e3)];
    let (mut value, mut unit) = (value, unit);
    while value != 0.0 && value.abs() < 1.0 {
        match SMALLER.iter().find(|(from, _, _)| *from == unit) {
            Some((_, to, factor)) => {
                value *= factor;
                unit = to;
            }
            None => break,
        }
    }
    match unit {
        "" => format_value(value),
        "%" => format!("{}%", format_value(value)),
        u => format!("{} {u}", format_value(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_units_are_named_with_the_right_one() {
        for (bad, good) in [
            ("msec", "ms"),
            ("mS", "ms"),
            ("MS", "ms"),
            ("secs", "s"),
            ("%+", "%"),
            ("kib", "KiB"),
        ] {
            assert_eq!(Unit::misspelt(bad), Some(good), "{bad}");
        }
        for fine in ["ms", "MiB", "%", "req/s", "ops", "allocs/op"] {
            assert_eq!(Unit::misspelt(fine), None, "{fine}");
        }
    }

    #[test]
    fn small_values_keep_their_digits() {
        assert_eq!(format_value(47.5), "47.5");
        assert_eq!(format_value(31.666666), "31.67");
        assert_eq!(format_value(0.0032), "0.0032");
        assert_eq!(format_value(0.123456), "0.123");
        assert_eq!(format_value(0.0), "0");
        assert_eq!(format_with_unit(0.0032, "s"), "3.2 ms");
        assert_eq!(format_with_unit(0.5, "s"), "500 ms");
        assert_eq!(format_with_unit(0.0000004, "s"), "400 ns");
        assert_eq!(format_with_unit(0.25, "ratio"), "0.25 ratio");
        assert_eq!(format_with_unit(12.0, "%"), "12%");
    }

    #[test]
    fn quantities() {
        assert_eq!(
            parse_quantity("300ms"),
            Some(Quantity {
                value: 300.0,
                unit: Some("ms".into())
            })
        );
        assert_eq!(parse_quantity("1.5").unwrap().value, 1.5);
        assert_eq!(
            parse_quantity("2 MiB").unwrap().unit.as_deref(),
            Some("MiB")
        );
        assert_eq!(parse_quantity("1e3s").unwrap().value, 1000.0);
        assert_eq!(parse_quantity("-5").unwrap().value, -5.0);
        assert_eq!(parse_quantity("abc"), None);
    }

    #[test]
    fn conversion() {
        let ms = Unit::of_metric(Some("ms"));
        let s = Unit::of_metric(Some("s"));
        assert_eq!(s.convert(1.5, &ms), Some(1500.0));
        let mib = Unit::known("MiB").unwrap();
        assert_eq!(
            mib.convert(2.0, &Unit::of_metric(Some("B"))),
            Some(2097152.0)
        );
        assert_eq!(ms.convert(1.0, &Unit::of_metric(Some("B"))), None);
        let rps = Unit::of_metric(Some("req/s"));
        assert_eq!(rps.convert(2.0, &Unit::of_metric(Some("req/s"))), Some(2.0));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_value(47.5), "47.5");
        assert_eq!(format_value(31.666666), "31.67");
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_with_unit(61.0, "s"), "61 s");
    }
}
