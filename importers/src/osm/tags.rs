//! OSM tag values to typed values: speeds, lengths, counts, yes/no.

const KMH_PER_MPH: f64 = 1.609_344;
const KMH_PER_KNOT: f64 = 1.852;
const M_PER_FOOT: f64 = 0.3048;
const M_PER_INCH: f64 = 0.0254;

/// A number, accepting a decimal comma ("12,5").
fn number(s: &str) -> Option<f64> {
    let s = s.trim();
    let v: f64 = s.parse().or_else(|_| s.replace(',', ".").parse()).ok()?;
    v.is_finite().then_some(v)
}

/// `maxspeed` in km/h: "50", "50 km/h", "30 mph", "10 knots". `None` for "walk", "none",
/// "signals", "DE:urban", "50;30" and anything else that is not one speed.
///
/// # Examples
/// ```
/// # use cim_importers::osm::parse_maxspeed_kmh;
/// assert_eq!(parse_maxspeed_kmh("50"), Some(50.0));
/// assert!((parse_maxspeed_kmh("30 mph").unwrap() - 48.28).abs() < 0.01);
/// assert_eq!(parse_maxspeed_kmh("walk"), None);
/// ```
pub fn parse_maxspeed_kmh(s: &str) -> Option<f64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "km/h" | "kmh" | "kph" => 1.0,
        "mph" => KMH_PER_MPH,
        "knots" | "kn" => KMH_PER_KNOT,
        _ => return None,
    };
    (v.is_finite() && v >= 0.0).then_some(v * factor)
}

/// A length in metres: "12", "12 m", "12m", "12.5 metres", "40'", "40 ft", "40'6\"", "12,5".
///
/// # Examples
/// ```
/// # use cim_importers::osm::parse_length_m;
/// assert_eq!(parse_length_m("12 m"), Some(12.0));
/// assert!((parse_length_m("40'").unwrap() - 12.192).abs() < 1e-9);
/// assert_eq!(parse_length_m("tall"), None);
/// ```
pub fn parse_length_m(s: &str) -> Option<f64> {
    let s = s.trim().to_ascii_lowercase();
    let v = if let Some((feet, rest)) = s.split_once('\'') {
        let inches = rest.trim().trim_end_matches('"').trim();
        let inches = if inches.is_empty() { 0.0 } else { number(inches)? };
        number(feet)? * M_PER_FOOT + inches * M_PER_INCH
    } else if let Some(feet) = s.strip_suffix("ft").or_else(|| s.strip_suffix("feet")) {
        number(feet)? * M_PER_FOOT
    } else {
        let metres = ["metres", "meters", "m"]
            .iter()
            .find_map(|u| s.strip_suffix(u))
            .unwrap_or(&s);
        number(metres)?
    };
    (v >= 0.0).then_some(v)
}

/// A non-negative count that may be fractional (`building:levels=2.5`).
pub(crate) fn parse_levels(s: &str) -> Option<f64> {
    number(s).filter(|v| *v >= 0.0)
}

/// A whole number (`lanes`, `layer`).
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

/// `oneway`: `Some((is_oneway, reversed))`; `None` for "reversible", "alternating", ...
pub(crate) fn parse_oneway(s: &str) -> Option<(bool, bool)> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some((true, false)),
        "no" | "false" | "0" => Some((false, false)),
        "-1" | "reverse" => Some((true, true)),
        _ => None,
    }
}

/// `bridge`/`tunnel`: anything but "no" (yes, viaduct, culvert, ...) is one.
pub(crate) fn parse_flag(s: &str) -> bool {
    !matches!(s.trim().to_ascii_lowercase().as_str(), "no" | "false" | "0")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert_eq!(parse_maxspeed_kmh(" 50 km/h"), Some(50.0));
        assert_eq!(parse_maxspeed_kmh("50kmh"), Some(50.0));
        assert!((parse_maxspeed_kmh("10 knots").unwrap() - 18.52).abs() < 1e-9);
        for s in ["none", "signals", "DE:urban", "50;30", "", "mph"] {
            assert_eq!(parse_maxspeed_kmh(s), None, "{s}");
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(parse_length_m("12"), Some(12.0));
        assert_eq!(parse_length_m("12m"), Some(12.0));
        assert_eq!(parse_length_m("12,5 m"), Some(12.5));
        assert_eq!(parse_length_m("7.5 metres"), Some(7.5));
        assert!((parse_length_m("40 ft").unwrap() - 12.192).abs() < 1e-9);
        assert!((parse_length_m("10'6\"").unwrap() - 3.2004).abs() < 1e-9);
        assert_eq!(parse_length_m("-3"), None);
        assert_eq!(parse_length_m("approx 10"), None);
    }

    #[test]
    fn counts_and_flags() {
        assert_eq!(parse_levels("2.5"), Some(2.5));
        assert_eq!(parse_levels("two"), None);
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("2;3"), None);
        assert_eq!(parse_oneway("-1"), Some((true, true)));
        assert_eq!(parse_oneway("reversible"), None);
        assert!(parse_flag("viaduct") && !parse_flag("no"));
    }
}
