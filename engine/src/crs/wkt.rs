//! A small, tolerant WKT tree parser (WKT1 OGC, ESRI .prj, WKT2) and its interpretation into a
//! [`Spec`](super::spec::Spec).
//!
//! The parser accepts `[` or `(` brackets, quoted strings (with `""` escapes), numbers and bare
//! words (`EAST`, `ellipsoidal`), and ignores whitespace and trailing text after the top node.

use super::spec::{norm, DatumFamily, Ellipsoid, Method, Spec};

/// One value inside a WKT node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Node(Node),
    Str(String),
    Num(f64),
    Word(String),
}

/// A WKT node: `KEYWORD[arg, arg, ...]`. The keyword is upper-cased.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub key: String,
    pub args: Vec<Value>,
}

impl Node {
    /// The first argument when it is a string (the name of most nodes).
    pub fn name(&self) -> Option<&str> {
        match self.args.first() {
            Some(Value::Str(s)) | Some(Value::Word(s)) => Some(s),
            _ => None,
        }
    }

    /// The `i`-th argument as a number (numbers written as strings are accepted).
    pub fn num(&self, i: usize) -> Option<f64> {
        match self.args.get(i) {
            Some(Value::Num(n)) => Some(*n),
            Some(Value::Str(s)) | Some(Value::Word(s)) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Direct child nodes.
    pub fn children(&self) -> impl Iterator<Item = &Node> {
        self.args.iter().filter_map(|v| match v {
            Value::Node(n) => Some(n),
            _ => None,
        })
    }

    /// The first direct child whose keyword is one of `keys`.
    pub fn child(&self, keys: &[&str]) -> Option<&Node> {
        self.children().find(|n| keys.contains(&n.key.as_str()))
    }

    /// The first node (depth-first, this node excluded) whose keyword is one of `keys`.
    pub fn find(&self, keys: &[&str]) -> Option<&Node> {
        for c in self.children() {
            if keys.contains(&c.key.as_str()) {
                return Some(c);
            }
            if let Some(n) = c.find(keys) {
                return Some(n);
            }
        }
        None
    }

    /// `AUTHORITY["EPSG","4326"]` (WKT1) or `ID["EPSG",4326]` (WKT2) directly on this node.
    pub fn authority(&self) -> Option<(String, String)> {
        let a = self.child(&["AUTHORITY", "ID"])?;
        let org = a.name()?.to_string();
        let code = match a.args.get(1)? {
            Value::Num(n) => format!("{n}"),
            Value::Str(s) | Value::Word(s) => s.trim().to_string(),
            Value::Node(_) => return None,
        };
        Some((org, code))
    }

    /// The EPSG code of this node, if it carries one.
    pub fn epsg(&self) -> Option<u32> {
        let (org, code) = self.authority()?;
        if !org.eq_ignore_ascii_case("EPSG") {
            return None;
        }
        code.parse::<f64>()
            .ok()
            .filter(|c| c.fract() == 0.0 && *c > 0.0 && *c < 1.0e7)
            .map(|c| c as u32)
    }
}

/// Parses WKT text into its top node.
pub(crate) fn parse(text: &str) -> Result<Node, String> {
    let mut p = Parser {
        s: text.trim_start_matches('\u{feff}').as_bytes(),
        i: 0,
        depth: 0,
    };
    p.ws();
    let key = p.word();
    if key.is_empty() {
        return Err("WKT must start with a keyword such as PROJCS or GEOGCRS".into());
    }
    p.node(key)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn word(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' || c == b'+' {
                self.i += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn err(&self, what: &str) -> String {
        format!("malformed WKT at character {}: {what}", self.i)
    }

    fn node(&mut self, key: String) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err(self.err("nested too deeply"));
        }
        self.ws();
        let close = match self.peek() {
            Some(b'[') => b']',
            Some(b'(') => b')',
            _ => return Err(self.err(&format!("expected '[' after {key}"))),
        };
        self.i += 1;
        let mut args = Vec::new();
        loop {
            self.ws();
            match self.peek() {
                None => return Err(self.err(&format!("unterminated {key}[...]"))),
                Some(c) if c == close => {
                    self.i += 1;
                    break;
                }
                Some(b',') => {
                    self.i += 1;
                }
                Some(b'"') => args.push(Value::Str(self.string()?)),
                Some(_) => {
                    let w = self.word();
                    if w.is_empty() {
                        return Err(self.err("unexpected character"));
                    }
                    self.ws();
                    if matches!(self.peek(), Some(b'[') | Some(b'(')) {
                        args.push(Value::Node(self.node(w.to_ascii_uppercase())?));
                    } else if let Ok(n) = w.parse::<f64>() {
                        args.push(Value::Num(n));
                    } else {
                        args.push(Value::Word(w));
                    }
                }
            }
        }
        self.depth -= 1;
        Ok(Node { key, args })
    }

    fn string(&mut self) -> Result<String, String> {
        // at the opening quote
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    if self.peek() == Some(b'"') {
                        out.push(b'"');
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

const PROJECTED: &[&str] = &["PROJCS", "PROJCRS", "PROJECTEDCRS"];
const GEOGRAPHIC: &[&str] = &[
    "GEOGCS",
    "GEOGCRS",
    "GEODCRS",
    "GEOGRAPHICCRS",
    "GEODETICCRS",
    "BASEGEOGCRS",
    "BASEGEODCRS",
];
const DATUMS: &[&str] = &["DATUM", "GEODETICDATUM", "TRF", "ENSEMBLE"];
const ELLIPSOIDS: &[&str] = &["SPHEROID", "ELLIPSOID"];

/// The horizontal CRS node of a WKT tree: the node itself, or the first horizontal part of a
/// compound CRS, or the source CRS of a bound CRS.
pub(crate) fn horizontal(top: &Node) -> &Node {
    match top.key.as_str() {
        "COMPD_CS" | "COMPOUNDCRS" => top
            .children()
            .find(|c| PROJECTED.contains(&c.key.as_str()) || GEOGRAPHIC.contains(&c.key.as_str()))
            .unwrap_or(top),
        "BOUNDCRS" => top
            .child(&["SOURCECRS"])
            .and_then(|s| s.children().next())
            .unwrap_or(top),
        _ => top,
    }
}

/// Interprets a (horizontal) CRS node as a [`Spec`]. Errors name what is missing or unsupported.
pub(crate) fn to_spec(n: &Node) -> Result<Spec, String> {
    let key = n.key.as_str();
    let mut spec = Spec {
        name: n.name().map(str::to_string),
        ..Spec::default()
    };
    if GEOGRAPHIC.contains(&key) {
        spec.geographic = true;
        fill_geographic(n, &mut spec)?;
        return Ok(spec);
    }
    if !PROJECTED.contains(&key) {
        // LOCAL_CS, ENGCRS, VERT_CS, GEOCCS, ...: only a well-known name can identify these.
        return Ok(spec);
    }
    let geog = n
        .child(GEOGRAPHIC)
        .ok_or("projected CRS without a geographic base (GEOGCS/BASEGEOGCRS)")?;
    fill_geographic(geog, &mut spec)?;
    let wkt2 = key != "PROJCS";

    // Linear unit: WKT1 `UNIT` on the PROJCS; WKT2 `LENGTHUNIT`/`UNIT` on the CRS or its axes.
    let unit = n
        .child(&["UNIT", "LENGTHUNIT"])
        .or_else(|| n.child(&["CS"]).and_then(|c| c.find(&["LENGTHUNIT", "UNIT"])))
        .or_else(|| n.child(&["AXIS"]).and_then(|a| a.find(&["LENGTHUNIT", "UNIT"])));
    spec.to_meter = unit.and_then(|u| u.num(1)).filter(|f| *f > 0.0).unwrap_or(1.0);
    spec.axis_east_north = axis_east_north(n);

    let (method_name, params): (String, Vec<&Node>) = if wkt2 {
        let conv = n
            .child(&["CONVERSION", "DERIVINGCONVERSION"])
            .ok_or("WKT2 projected CRS without CONVERSION")?;
        let method = conv
            .child(&["METHOD", "PROJECTION"])
            .and_then(Node::name)
            .ok_or("CONVERSION without METHOD")?;
        (
            method.to_string(),
            conv.children().filter(|c| c.key == "PARAMETER").collect(),
        )
    } else {
        let method = n
            .child(&["PROJECTION"])
            .and_then(Node::name)
            .ok_or("PROJCS without PROJECTION")?;
        (
            method.to_string(),
            n.children().filter(|c| c.key == "PARAMETER").collect(),
        )
    };
    spec.method = Some(Method::from_name(&method_name).ok_or_else(|| {
        format!("projection method '{method_name}' is not supported by the pure-Rust backend")
    })?);
    spec.method_name = Some(method_name);

    for p in params {
        let (Some(pname), Some(value)) = (p.name(), p.num(1)) else {
            continue;
        };
        let pn = norm(pname);
        // Units: WKT2 parameters carry their own; WKT1 angles are in the GEOGCS unit and lengths
        // in the PROJCS unit.
        let angle = |v: f64| match p.child(&["ANGLEUNIT", "UNIT"]).and_then(|u| u.num(1)) {
            Some(f) if wkt2 => v * deg_per_unit(f),
            _ => v * spec.angle_to_deg,
        };
        let length = |v: f64| match p.child(&["LENGTHUNIT", "UNIT"]).and_then(|u| u.num(1)) {
            Some(f) if wkt2 => v * f,
            _ => v * spec.to_meter,
        };
        match pn.as_str() {
            "centralmeridian"
            | "longitudeofcenter"
            | "longitudeoforigin"
            | "longitudeofcentre"
            | "longitudeofnaturalorigin"
            | "longitudeoffalseorigin"
            | "longitudeofprojectioncentre"
            | "longitudeofprojectioncenter" => spec.lon_0 = Some(angle(value)),
            "latitudeoforigin"
            | "latitudeofcenter"
            | "latitudeofcentre"
            | "latitudeofnaturalorigin"
            | "latitudeoffalseorigin"
            | "latitudeofprojectioncentre"
            | "latitudeofprojectioncenter" => spec.lat_0 = Some(angle(value)),
            "scalefactor"
            | "scalefactoratnaturalorigin"
            | "scalefactoronpseudostandardparallel"
            | "scalefactoroninitialline"
            | "scalefactoratcentre" => spec.k = Some(value),
            "falseeasting" | "eastingatfalseorigin" | "eastingatprojectioncentre" => {
                spec.x_0 = Some(length(value))
            }
            "falsenorthing" | "northingatfalseorigin" | "northingatprojectioncentre" => {
                spec.y_0 = Some(length(value))
            }
            "standardparallel1" | "latitudeof1ststandardparallel" => spec.lat_1 = Some(angle(value)),
            "standardparallel2" | "latitudeof2ndstandardparallel" => spec.lat_2 = Some(angle(value)),
            "azimuth" | "colatitudeofconeaxis" | "azimuthofinitialline" => spec.alpha = Some(angle(value)),
            "pseudostandardparallel1" | "latitudeofpseudostandardparallel" => {
                spec.pseudo_parallel = Some(angle(value))
            }
            "xscale" => spec.esri_x_scale = Some(value),
            "xyplanerotation" => spec.esri_rotation = Some(value),
            "auxiliaryspheretype" => spec.esri_aux_sphere = Some(value),
            _ => spec.other_params.push(pname.to_string()),
        }
    }
    Ok(spec)
}

fn fill_geographic(g: &Node, spec: &mut Spec) -> Result<(), String> {
    spec.geog_name = g.name().map(str::to_string);
    spec.geog_epsg = g.epsg();
    let datum = g.child(DATUMS).or_else(|| g.find(DATUMS));
    spec.datum_name = datum.and_then(Node::name).map(str::to_string);
    let ell = datum
        .and_then(|d| d.find(ELLIPSOIDS))
        .or_else(|| g.find(ELLIPSOIDS));
    if let Some(e) = ell {
        let a = e.num(1).ok_or("SPHEROID without a semi-major axis")?;
        let rf = e.num(2).ok_or("SPHEROID without an inverse flattening")?;
        // WKT2 ellipsoids may be in another length unit.
        let f = e
            .child(&["LENGTHUNIT", "UNIT"])
            .and_then(|u| u.num(1))
            .unwrap_or(1.0);
        spec.ellipsoid = Some(Ellipsoid {
            name: e.name().unwrap_or("").to_string(),
            a: a * f,
            rf,
        });
    }
    if let Some(t) = datum.and_then(|d| d.child(&["TOWGS84"])) {
        let v: Vec<f64> = (0..t.args.len()).filter_map(|i| t.num(i)).collect();
        if v.len() == 3 || v.len() == 7 {
            spec.towgs84 = Some(v);
        }
    }
    // WKT1/ESRI: the GEOGCS angular unit (degrees almost always; grads in some French data).
    if let Some(f) = g
        .child(&["UNIT", "ANGLEUNIT"])
        .and_then(|u| u.num(1))
        .filter(|f| *f > 0.0)
    {
        spec.angle_to_deg = deg_per_unit(f);
    }
    // PRIMEM: WKT2 carries its own ANGLEUNIT; WKT1 uses the GEOGCS unit.
    if let Some(pm) = g.child(&["PRIMEM", "PRIMEMERIDIAN"]) {
        let v = pm.num(1).unwrap_or(0.0);
        spec.pm = match pm.child(&["ANGLEUNIT", "UNIT"]).and_then(|u| u.num(1)) {
            Some(f) => v * deg_per_unit(f),
            None if g.key == "GEOGCS" => v * spec.angle_to_deg,
            None => v,
        };
    }
    spec.family = DatumFamily::detect(
        [
            spec.datum_name.as_deref(),
            spec.geog_name.as_deref(),
            spec.ellipsoid.as_ref().map(|e| e.name.as_str()),
        ],
        spec.ellipsoid.as_ref(),
    );
    Ok(())
}

/// Degrees per angular unit given in radians per unit; the usual 0.0174532925199433 gives
/// exactly 1 (so parameters stay 114, not 113.99999999999999).
fn deg_per_unit(radians_per_unit: f64) -> f64 {
    let d = radians_per_unit.to_degrees();
    if (d - 1.0).abs() < 1e-12 {
        1.0
    } else {
        d
    }
}

/// Whether the axes are east/north (`None` without AXIS nodes, as in ESRI texts).
fn axis_east_north(n: &Node) -> Option<bool> {
    let dirs: Vec<String> = n
        .children()
        .chain(n.child(&["CS"]).into_iter().flat_map(|c| c.children()))
        .filter(|c| c.key == "AXIS")
        .filter_map(|a| match a.args.get(1) {
            Some(Value::Word(w)) | Some(Value::Str(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    (!dirs.is_empty()).then(|| dirs.iter().any(|d| d == "east" || d == "north"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_nodes_numbers_words_and_escaped_quotes() {
        let n =
            parse(r#"  PROJCS["a ""b""",UNIT("Meter",1.0),AXIS["X",EAST],AUTHORITY["EPSG",32633]] trailing"#)
                .unwrap();
        assert_eq!(n.key, "PROJCS");
        assert_eq!(n.name(), Some("a \"b\""));
        assert_eq!(n.child(&["UNIT"]).unwrap().num(1), Some(1.0));
        assert_eq!(n.child(&["AXIS"]).unwrap().args[1], Value::Word("EAST".into()));
        assert_eq!(n.epsg(), Some(32633));
    }

    #[test]
    fn rejects_broken_text() {
        assert!(parse("PROJCS[\"x\",GEOGCS[").is_err());
        assert!(parse("[1,2]").is_err());
        assert!(parse("GEOGCS[\"x").is_err());
    }
}
