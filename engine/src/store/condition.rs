//! Attribute conditions for queries: `ifc_class = 'IfcWindow' AND storey = 'Level 1'`,
//! `height > 20`, `name LIKE 'Wall%'`, `storey IS NULL`. Parsed here (one grammar for the CLI,
//! the viewer and scripts) and run as SQL with parameters, the field checked against the layer's
//! columns, so no text ever reaches SQL unquoted.

use crate::error::{EngineError, Result};
use crate::feature::AttrValue;

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    IsNull,
    IsNotNull,
}

impl CmpOp {
    pub(crate) fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Like => "LIKE",
            CmpOp::IsNull => "IS NULL",
            CmpOp::IsNotNull => "IS NOT NULL",
        }
    }
}

/// `field op value`: a feature matches where its attribute `field` compares so with `value`
/// (a feature whose layer has no such field does not match).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub field: String,
    pub op: CmpOp,
    pub value: AttrValue,
}

fn bad(text: &str, reason: impl Into<String>) -> EngineError {
    EngineError::Layer {
        layer: "--where".into(),
        reason: format!("'{text}': {}", reason.into()),
    }
}

/// Parses conditions joined by `AND` (case-insensitive): a field name (letters, digits, `_`,
/// `.`, or in double quotes), an operator (`=`, `==`, `!=`, `<>`, `<`, `<=`, `>`, `>=`, `LIKE`,
/// `IS NULL`, `IS NOT NULL`) and a value (`'text'` with `''` for a quote, a number, `true`,
/// `false`).
pub fn parse_conditions(text: &str) -> Result<Vec<Condition>> {
    let chars: Vec<char> = text.chars().collect();
    let mut k = 0;
    let mut out = Vec::new();
    let skip_ws = |k: &mut usize| {
        while *k < chars.len() && chars[*k].is_whitespace() {
            *k += 1;
        }
    };
    let word = |k: &mut usize| -> String {
        let s = *k;
        while *k < chars.len() && (chars[*k].is_alphanumeric() || chars[*k] == '_' || chars[*k] == '.') {
            *k += 1;
        }
        chars[s..*k].iter().collect()
    };
    loop {
        skip_ws(&mut k);
        // The field.
        let field = if chars.get(k) == Some(&'"') {
            k += 1;
            let s = k;
            while k < chars.len() && chars[k] != '"' {
                k += 1;
            }
            if k >= chars.len() {
                return Err(bad(text, "a field name's closing \" is missing"));
            }
            let f: String = chars[s..k].iter().collect();
            k += 1;
            f
        } else {
            word(&mut k)
        };
        if field.is_empty() {
            return Err(bad(text, format!("a field name expected at character {}", k + 1)));
        }
        skip_ws(&mut k);
        // The operator.
        let rest: String = chars[k..].iter().collect();
        let upper = rest.to_uppercase();
        let (op, len) = if let Some(r) = upper.strip_prefix("IS") {
            let r2 = r.trim_start();
            let gap = r.len() - r2.len();
            if let Some(r3) = r2.strip_prefix("NOT") {
                let r4 = r3.trim_start();
                if r4.starts_with("NULL") {
                    (CmpOp::IsNotNull, 2 + gap + 3 + (r3.len() - r4.len()) + 4)
                } else {
                    return Err(bad(text, "IS NOT must be followed by NULL"));
                }
            } else if r2.starts_with("NULL") {
                (CmpOp::IsNull, 2 + gap + 4)
            } else {
                return Err(bad(text, "IS must be followed by NULL or NOT NULL"));
            }
        } else if upper.starts_with("LIKE") {
            (CmpOp::Like, 4)
        } else {
            let two: String = rest.chars().take(2).collect();
            match two.as_str() {
                "==" => (CmpOp::Eq, 2),
                "!=" | "<>" => (CmpOp::Ne, 2),
                "<=" => (CmpOp::Le, 2),
                ">=" => (CmpOp::Ge, 2),
                _ => match rest.chars().next() {
                    Some('=') => (CmpOp::Eq, 1),
                    Some('<') => (CmpOp::Lt, 1),
                    Some('>') => (CmpOp::Gt, 1),
                    _ => return Err(bad(text, format!("an operator expected after '{field}'"))),
                },
            }
        };
        k += rest.chars().take(len).count();
        skip_ws(&mut k);
        let value = if matches!(op, CmpOp::IsNull | CmpOp::IsNotNull) {
            AttrValue::Null
        } else if chars.get(k) == Some(&'\'') {
            k += 1;
            let mut s = String::new();
            loop {
                match chars.get(k) {
                    None => return Err(bad(text, "a text value's closing ' is missing")),
                    Some('\'') if chars.get(k + 1) == Some(&'\'') => {
                        s.push('\'');
                        k += 2;
                    }
                    Some('\'') => {
                        k += 1;
                        break;
                    }
                    Some(c) => {
                        s.push(*c);
                        k += 1;
                    }
                }
            }
            AttrValue::Text(s)
        } else {
            let s = k;
            while k < chars.len() && !chars[k].is_whitespace() {
                k += 1;
            }
            let w: String = chars[s..k].iter().collect();
            match w.to_lowercase().as_str() {
                "" => {
                    return Err(bad(
                        text,
                        format!("a value expected after '{field} {}'", op.sql()),
                    ))
                }
                "true" => AttrValue::Bool(true),
                "false" => AttrValue::Bool(false),
                _ => match (w.parse::<i64>(), w.parse::<f64>()) {
                    (Ok(i), _) => AttrValue::Int(i),
                    (_, Ok(r)) if r.is_finite() => AttrValue::Real(r),
                    _ => {
                        return Err(bad(
                            text,
                            format!("the value {w} is neither a number, true, false nor 'quoted text'"),
                        ))
                    }
                },
            }
        };
        out.push(Condition { field, op, value });
        skip_ws(&mut k);
        if k >= chars.len() {
            return Ok(out);
        }
        let w = word(&mut k);
        if !w.eq_ignore_ascii_case("and") {
            return Err(bad(
                text,
                format!("AND expected at character {}, found '{w}'", k + 1),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse() {
        let c = parse_conditions(
            "ifc_class = 'IfcWindow' and height >= 2.5 AND \"my field\" IS NOT NULL and n<>3",
        )
        .unwrap();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].value, AttrValue::Text("IfcWindow".into()));
        assert_eq!((c[1].op, &c[1].value), (CmpOp::Ge, &AttrValue::Real(2.5)));
        assert_eq!((c[2].field.as_str(), c[2].op), ("my field", CmpOp::IsNotNull));
        assert_eq!((c[3].op, &c[3].value), (CmpOp::Ne, &AttrValue::Int(3)));
        let q = parse_conditions("name LIKE 'O''Brien%'").unwrap();
        assert_eq!(q[0].value, AttrValue::Text("O'Brien%".into()));
        for wrong in ["", "= 3", "a 3", "a = 'x", "a = x", "a = 1 or b = 2", "a IS 3"] {
            assert!(parse_conditions(wrong).is_err(), "{wrong}");
        }
    }
}
