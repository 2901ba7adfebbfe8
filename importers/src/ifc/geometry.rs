//! IFC geometry, item by item, as faces (outer ring then holes, counter-clockwise seen from
//! outside) in the item's own frame. Curves are cut into segments no further than a stated
//! tolerance from the true curve. So far: profiles (rectangle, circle, arbitrary closed
//! profiles from polylines and indexed poly curves of lines, with voids) and extruded area
//! solids.

use crate::error::{ImportError, Result};

use super::placement::{axis2_placement, cross, direction, dot, point, sub, Frame};
use super::step::{StepFile, Value};

/// A planar face: its outer ring, then its holes.
pub type Face = Vec<Vec<[f64; 3]>>;

/// A profile: its outer ring, then its holes (2-D, counter-clockwise outer, clockwise holes).
pub type Profile = Vec<Vec<[f64; 2]>>;

fn bad(f: &StepFile, reason: impl Into<String>) -> ImportError {
    ImportError::file(&f.path, reason)
}

fn num(f: &StepFile, params: &[Value], k: usize, id: u64, what: &str) -> Result<f64> {
    params
        .get(k)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
        .ok_or_else(|| bad(f, format!("#{id}: no {what}")))
}

/// Segments for a full circle of `radius` so that no chord strays more than `tol` from it
/// (at least 8, at most 256).
pub fn circle_segments(radius: f64, tol: f64) -> usize {
    if radius <= tol || tol <= 0.0 {
        return 8;
    }
    let half_angle = (1.0 - tol / radius).clamp(-1.0, 1.0).acos();
    ((std::f64::consts::PI / half_angle).ceil() as usize).clamp(8, 256)
}

/// Twice the signed area of a 2-D ring (positive counter-clockwise).
fn area2(r: &[[f64; 2]]) -> f64 {
    let n = r.len();
    (0..n)
        .map(|k| {
            let (a, b) = (r[k], r[(k + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum()
}

/// A ring without its closing point, turned to run the way asked.
fn oriented(mut r: Vec<[f64; 2]>, ccw: bool) -> Vec<[f64; 2]> {
    if r.len() > 1 && r.first() == r.last() {
        r.pop();
    }
    if (area2(&r) > 0.0) != ccw {
        r.reverse();
    }
    r
}

/// How finely curves are cut, and the model's plane angle unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tess {
    /// The most a chord may stray from its curve, in project length units.
    pub tol: f64,
    /// Radians in one plane angle unit of the model (π/180 for degrees).
    pub angle_rad: f64,
}

impl Tess {
    /// Cut to `tol`, angles in radians.
    pub fn new(tol: f64) -> Tess {
        Tess { tol, angle_rad: 1.0 }
    }
}

/// `n` points on an arc of `radius` about `c` from angle `a0` through `sweep` (radians), both
/// ends included, enough that no chord strays more than `tol`.
fn arc(c: [f64; 2], rx: f64, ry: f64, a0: f64, sweep: f64, tol: f64, frame: &Frame) -> Vec<[f64; 2]> {
    let full = circle_segments(rx.max(ry), tol) as f64;
    let n = ((full * sweep.abs() / std::f64::consts::TAU).ceil() as usize).max(1);
    (0..=n)
        .map(|k| {
            let a = a0 + sweep * k as f64 / n as f64;
            let w = frame.apply([rx * a.cos(), ry * a.sin(), 0.0]);
            [c[0] + w[0], c[1] + w[1]]
        })
        .collect()
}

/// The circle through three points: its centre and radius (`None` where they lie in a line).
fn circle_through(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> Option<([f64; 2], f64)> {
    let d = 2.0 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]));
    if d.abs() < 1e-12 {
        return None;
    }
    let sq = |p: [f64; 2]| p[0] * p[0] + p[1] * p[1];
    let ux = (sq(a) * (b[1] - c[1]) + sq(b) * (c[1] - a[1]) + sq(c) * (a[1] - b[1])) / d;
    let uy = (sq(a) * (c[0] - b[0]) + sq(b) * (a[0] - c[0]) + sq(c) * (b[0] - a[0])) / d;
    let r = ((a[0] - ux).powi(2) + (a[1] - uy).powi(2)).sqrt();
    Some(([ux, uy], r))
}

/// The arc from `a` through `m` to `b`, as points from `a` to `b`.
fn arc_through(a: [f64; 2], m: [f64; 2], b: [f64; 2], tol: f64) -> Vec<[f64; 2]> {
    let Some((c, r)) = circle_through(a, m, b) else {
        return vec![a, b];
    };
    let ang = |p: [f64; 2]| (p[1] - c[1]).atan2(p[0] - c[0]);
    let (a0, am, a1) = (ang(a), ang(m), ang(b));
    let tau = std::f64::consts::TAU;
    let ccw = |from: f64, to: f64| (to - from).rem_euclid(tau);
    // Anticlockwise if the middle point comes before the end going that way.
    let sweep = if ccw(a0, am) <= ccw(a0, a1) {
        ccw(a0, a1)
    } else {
        -ccw(a1, a0)
    };
    let mut pts = arc(c, r, r, a0, sweep, tol, &Frame::IDENTITY);
    if let Some(first) = pts.first_mut() {
        *first = a;
    }
    if let Some(last) = pts.last_mut() {
        *last = b;
    }
    pts
}

fn push_points(out: &mut Vec<[f64; 2]>, pts: impl IntoIterator<Item = [f64; 2]>) {
    for p in pts {
        let near = out
            .last()
            .is_some_and(|q| (q[0] - p[0]).abs() < 1e-12 && (q[1] - p[1]).abs() < 1e-12);
        if !near {
            out.push(p);
        }
    }
}

/// The parameter of a trimming select: an `IfcParameterValue`, else the angle (for conics) of an
/// `IfcCartesianPoint` in the conic's frame; in radians for conics.
fn trim_angle(
    f: &StepFile,
    trims: &[Value],
    frame: &Frame,
    prefer_param: bool,
    t: &Tess,
    id: u64,
) -> Result<f64> {
    let param = trims.iter().find_map(|v| match v {
        Value::Typed(k, v) if k == "IFCPARAMETERVALUE" => v.as_f64(),
        _ => None,
    });
    let cart = trims.iter().find_map(Value::as_ref_id);
    let by_point = |pid: u64| -> Result<f64> {
        let p = point(f, pid, id)?;
        let d = [
            p[0] - frame.origin[0],
            p[1] - frame.origin[1],
            p[2] - frame.origin[2],
        ];
        let x = d[0] * frame.x[0] + d[1] * frame.x[1] + d[2] * frame.x[2];
        let y = d[0] * frame.y[0] + d[1] * frame.y[1] + d[2] * frame.y[2];
        Ok(y.atan2(x))
    };
    match (param, cart) {
        (Some(p), Some(c)) => {
            if prefer_param {
                Ok(p * t.angle_rad)
            } else {
                by_point(c)
            }
        }
        (Some(p), None) => Ok(p * t.angle_rad),
        (None, Some(c)) => by_point(c),
        (None, None) => Err(bad(
            f,
            format!("#{id}: a trim that is neither a parameter nor a point"),
        )),
    }
}

/// The points of a 2-D curve, in order: an `IfcPolyline`, an `IfcIndexedPolyCurve` (lines and
/// arcs), an `IfcCompositeCurve` of such segments, an `IfcTrimmedCurve` of a circle, ellipse or
/// line, or a whole circle or ellipse.
pub fn curve_points(f: &StepFile, id: u64, from: u64, t: &Tess) -> Result<Vec<[f64; 2]>> {
    curve_points_at(f, id, from, t, 0)
}

fn curve_points_at(f: &StepFile, id: u64, from: u64, t: &Tess, depth: usize) -> Result<Vec<[f64; 2]>> {
    if depth > 16 {
        return Err(bad(
            f,
            format!("#{id}: curves nested too deep (a curve made of itself?)"),
        ));
    }
    let c = f
        .get(id)
        .map_err(|_| bad(f, format!("#{from} refers to #{id}, which is not in the file")))?;
    let mut out: Vec<[f64; 2]> = Vec::new();
    match c.ty.as_str() {
        "IFCPOLYLINE" => {
            for p in c.params.first().and_then(Value::as_list).unwrap_or(&[]) {
                let Some(pid) = p.as_ref_id() else { continue };
                let q = point(f, pid, id)?;
                push_points(&mut out, [[q[0], q[1]]]);
            }
        }
        "IFCINDEXEDPOLYCURVE" => {
            let list = c
                .params
                .first()
                .and_then(Value::as_ref_id)
                .ok_or_else(|| bad(f, format!("#{id}: no points")))?;
            let l = f.get_typed(list, &["IFCCARTESIANPOINTLIST2D", "IFCCARTESIANPOINTLIST3D"], id)?;
            let coords: Vec<[f64; 2]> = l
                .params
                .first()
                .and_then(Value::as_list)
                .unwrap_or(&[])
                .iter()
                .filter_map(|p| {
                    let v: Vec<f64> = p.as_list()?.iter().filter_map(Value::as_f64).collect();
                    (v.len() >= 2).then(|| [v[0], v[1]])
                })
                .collect();
            let at = |i: usize| -> Result<[f64; 2]> {
                coords
                    .get(i.wrapping_sub(1))
                    .copied()
                    .ok_or_else(|| bad(f, format!("#{id}: point index {i} out of range")))
            };
            match c.params.get(1).and_then(Value::as_list) {
                None => push_points(&mut out, coords.iter().copied()),
                Some(segments) => {
                    for s in segments {
                        let Value::Typed(kind, v) = s else { continue };
                        let idx: Vec<usize> = match v.as_ref() {
                            Value::List(l) => {
                                l.iter().filter_map(|i| i.as_f64()).map(|i| i as usize).collect()
                            }
                            other => other.as_f64().map(|i| vec![i as usize]).unwrap_or_default(),
                        };
                        match kind.as_str() {
                            "IFCLINEINDEX" => {
                                for i in idx {
                                    push_points(&mut out, [at(i)?]);
                                }
                            }
                            "IFCARCINDEX" if idx.len() == 3 => {
                                let pts = arc_through(at(idx[0])?, at(idx[1])?, at(idx[2])?, t.tol);
                                push_points(&mut out, pts);
                            }
                            other => {
                                return Err(bad(f, format!("#{id}: {other} segments are not read")));
                            }
                        }
                    }
                }
            }
        }
        "IFCCOMPOSITECURVE" | "IFCCOMPOSITECURVEONSURFACE" => {
            for s in c.params.first().and_then(Value::as_list).unwrap_or(&[]) {
                let Some(sid) = s.as_ref_id() else { continue };
                let seg = f.get_typed(
                    sid,
                    &[
                        "IFCCOMPOSITECURVESEGMENT",
                        "IFCREPARAMETRISEDCOMPOSITECURVESEGMENT",
                    ],
                    id,
                )?;
                let same = seg.params.get(1).and_then(Value::as_enum) != Some("F");
                let parent = seg
                    .params
                    .get(2)
                    .and_then(Value::as_ref_id)
                    .ok_or_else(|| bad(f, format!("#{sid}: no ParentCurve")))?;
                let mut pts = curve_points_at(f, parent, sid, t, depth + 1)?;
                if !same {
                    pts.reverse();
                }
                push_points(&mut out, pts);
            }
        }
        "IFCTRIMMEDCURVE" => {
            let basis = c
                .params
                .first()
                .and_then(Value::as_ref_id)
                .ok_or_else(|| bad(f, format!("#{id}: no BasisCurve")))?;
            let sense = c.params.get(3).and_then(Value::as_enum) != Some("F");
            let prefer_param = c.params.get(4).and_then(Value::as_enum) != Some("CARTESIAN");
            let trim1 = c.params.get(1).and_then(Value::as_list).unwrap_or(&[]);
            let trim2 = c.params.get(2).and_then(Value::as_list).unwrap_or(&[]);
            let b = f
                .get(basis)
                .map_err(|_| bad(f, format!("#{id} refers to #{basis}, which is not in the file")))?;
            match b.ty.as_str() {
                "IFCCIRCLE" | "IFCELLIPSE" => {
                    let frame = match b.params.first().and_then(Value::as_ref_id) {
                        Some(a) => axis2_placement(f, a, basis)?,
                        None => Frame::IDENTITY,
                    };
                    let rx = num(f, &b.params, 1, basis, "radius")?;
                    let ry = if b.ty == "IFCELLIPSE" {
                        num(f, &b.params, 2, basis, "SemiAxis2")?
                    } else {
                        rx
                    };
                    let a1 = trim_angle(f, trim1, &frame, prefer_param, t, id)?;
                    let a2 = trim_angle(f, trim2, &frame, prefer_param, t, id)?;
                    let tau = std::f64::consts::TAU;
                    let sweep = if sense {
                        let s = (a2 - a1).rem_euclid(tau);
                        if s < 1e-12 {
                            tau
                        } else {
                            s
                        }
                    } else {
                        let s = (a1 - a2).rem_euclid(tau);
                        -(if s < 1e-12 { tau } else { s })
                    };
                    let centre = [frame.origin[0], frame.origin[1]];
                    let local = Frame {
                        origin: [0.0; 3],
                        ..frame
                    };
                    push_points(&mut out, arc(centre, rx, ry, a1, sweep, t.tol, &local));
                }
                "IFCLINE" | "IFCPOLYLINE" => {
                    // Trimmed by its end points where they are given as points.
                    let ends: Vec<u64> = [trim1, trim2]
                        .iter()
                        .filter_map(|l| l.iter().find_map(Value::as_ref_id))
                        .collect();
                    if ends.len() == 2 {
                        let (p, q) = (point(f, ends[0], id)?, point(f, ends[1], id)?);
                        push_points(&mut out, [[p[0], p[1]], [q[0], q[1]]]);
                    } else if b.ty == "IFCPOLYLINE" {
                        push_points(&mut out, curve_points_at(f, basis, id, t, depth + 1)?);
                    } else {
                        let (p0, v) = line(f, &b, basis)?;
                        let s1 = trim1.iter().find_map(|v| match v {
                            Value::Typed(_, x) => x.as_f64(),
                            _ => None,
                        });
                        let s2 = trim2.iter().find_map(|v| match v {
                            Value::Typed(_, x) => x.as_f64(),
                            _ => None,
                        });
                        let (Some(s1), Some(s2)) = (s1, s2) else {
                            return Err(bad(f, format!("#{id}: a line trimmed without ends")));
                        };
                        push_points(&mut out, [s1, s2].map(|s| [p0[0] + v[0] * s, p0[1] + v[1] * s]));
                    }
                }
                other => {
                    return Err(bad(
                        f,
                        format!("#{id}: trimmed curves of type {other} are not read"),
                    ))
                }
            }
        }
        "IFCCIRCLE" | "IFCELLIPSE" => {
            let frame = match c.params.first().and_then(Value::as_ref_id) {
                Some(a) => axis2_placement(f, a, id)?,
                None => Frame::IDENTITY,
            };
            let rx = num(f, &c.params, 1, id, "radius")?;
            let ry = if c.ty == "IFCELLIPSE" {
                num(f, &c.params, 2, id, "SemiAxis2")?
            } else {
                rx
            };
            let centre = [frame.origin[0], frame.origin[1]];
            let local = Frame {
                origin: [0.0; 3],
                ..frame
            };
            let mut pts = arc(centre, rx, ry, 0.0, std::f64::consts::TAU, t.tol, &local);
            pts.pop();
            out = pts;
        }
        other => return Err(bad(f, format!("#{id}: curves of type {other} are not read yet"))),
    }
    Ok(out)
}

/// An `IfcLine`'s point and its vector (direction times magnitude).
fn line(f: &StepFile, l: &super::step::Instance, id: u64) -> Result<([f64; 3], [f64; 3])> {
    let p = point(
        f,
        l.params
            .first()
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no Pnt")))?,
        id,
    )?;
    let vid = l
        .params
        .get(1)
        .and_then(Value::as_ref_id)
        .ok_or_else(|| bad(f, format!("#{id}: no Dir")))?;
    let v = f.get_typed(vid, &["IFCVECTOR"], id)?;
    let d = direction(
        f,
        v.params
            .first()
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{vid}: no Orientation")))?,
        vid,
    )?;
    let m = num(f, &v.params, 1, vid, "Magnitude")?;
    let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt().max(1e-300);
    Ok((p, d.map(|c| c / len * m)))
}

/// The points of a closed 2-D curve (its closing point dropped; at least three).
fn curve_2d(f: &StepFile, id: u64, from: u64, t: &Tess) -> Result<Vec<[f64; 2]>> {
    let mut pts = curve_points(f, id, from, t)?;
    while pts.len() > 1 {
        let (a, b) = (pts[0], pts[pts.len() - 1]);
        if (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9 {
            pts.pop();
        } else {
            break;
        }
    }
    if pts.len() < 3 {
        return Err(bad(f, format!("#{id}: a closed curve of fewer than 3 points")));
    }
    Ok(pts)
}

/// A profile definition as rings in its own plane, its `Position` applied: rectangles (plain,
/// rounded, hollow), circles (and hollow), ellipses, I, L, T, U, C and Z sections (about the
/// centre of their bounding box, fillets left square), arbitrary closed profiles (with voids)
/// and derived profiles.
pub fn profile(f: &StepFile, id: u64, from: u64, t: &Tess) -> Result<Profile> {
    profile_at(f, id, from, t, 0)
}

fn profile_at(f: &StepFile, id: u64, from: u64, t: &Tess, depth: usize) -> Result<Profile> {
    let p = f
        .get(id)
        .map_err(|_| bad(f, format!("#{from} refers to #{id}, which is not in the file")))?;
    let place = |fr: &Frame, ring: Vec<[f64; 2]>| -> Vec<[f64; 2]> {
        ring.into_iter()
            .map(|q| {
                let w = fr.apply([q[0], q[1], 0.0]);
                [w[0], w[1]]
            })
            .collect()
    };
    let n = |k: usize, what: &str| num(f, &p.params, k, id, what);
    let positive = |k: usize, what: &str| -> Result<f64> {
        let v = n(k, what)?;
        if v > 0.0 {
            Ok(v)
        } else {
            Err(bad(f, format!("#{id}: a {} with {what} {v}", p.ty)))
        }
    };
    let rect = |w: f64, h: f64| {
        vec![
            [-w / 2.0, -h / 2.0],
            [w / 2.0, -h / 2.0],
            [w / 2.0, h / 2.0],
            [-w / 2.0, h / 2.0],
        ]
    };
    let ellipse = |rx: f64, ry: f64| {
        let mut r = arc(
            [0.0, 0.0],
            rx,
            ry,
            0.0,
            std::f64::consts::TAU,
            t.tol,
            &Frame::IDENTITY,
        );
        r.pop();
        r
    };
    let parametric = p.ty != "IFCARBITRARYCLOSEDPROFILEDEF"
        && p.ty != "IFCARBITRARYPROFILEDEFWITHVOIDS"
        && p.ty != "IFCDERIVEDPROFILEDEF";
    let rings: Profile = match p.ty.as_str() {
        "IFCRECTANGLEPROFILEDEF" => vec![rect(positive(3, "XDim")?, positive(4, "YDim")?)],
        "IFCROUNDEDRECTANGLEPROFILEDEF" => {
            let (w, h) = (positive(3, "XDim")?, positive(4, "YDim")?);
            let r = n(5, "RoundingRadius")?.clamp(0.0, w.min(h) / 2.0);
            let mut ring = Vec::new();
            let half = std::f64::consts::FRAC_PI_2;
            for (k, c) in [
                [w / 2.0 - r, -h / 2.0 + r],
                [w / 2.0 - r, h / 2.0 - r],
                [-w / 2.0 + r, h / 2.0 - r],
                [-w / 2.0 + r, -h / 2.0 + r],
            ]
            .into_iter()
            .enumerate()
            {
                let a0 = -half + half * k as f64;
                push_points(&mut ring, arc(c, r, r, a0, half, t.tol, &Frame::IDENTITY));
            }
            vec![ring]
        }
        "IFCRECTANGLEHOLLOWPROFILEDEF" => {
            let (w, h, wall) = (
                positive(3, "XDim")?,
                positive(4, "YDim")?,
                positive(5, "WallThickness")?,
            );
            let mut rings = vec![rect(w, h)];
            if 2.0 * wall < w.min(h) {
                rings.push(rect(w - 2.0 * wall, h - 2.0 * wall));
            }
            rings
        }
        "IFCCIRCLEPROFILEDEF" | "IFCCIRCLEHOLLOWPROFILEDEF" => {
            let r = positive(3, "Radius")?;
            let mut rings = vec![ellipse(r, r)];
            if p.ty == "IFCCIRCLEHOLLOWPROFILEDEF" {
                let wall = n(4, "WallThickness")?;
                if wall > 0.0 && wall < r {
                    rings.push(ellipse(r - wall, r - wall));
                }
            }
            rings
        }
        "IFCELLIPSEPROFILEDEF" => vec![ellipse(positive(3, "SemiAxis1")?, positive(4, "SemiAxis2")?)],
        "IFCISHAPEPROFILEDEF" => {
            let (w, d, tw, tf) = (
                positive(3, "OverallWidth")?,
                positive(4, "OverallDepth")?,
                positive(5, "WebThickness")?,
                positive(6, "FlangeThickness")?,
            );
            let (x, y, a, b) = (w / 2.0, d / 2.0, tw / 2.0, d / 2.0 - tf);
            vec![vec![
                [-x, -y],
                [x, -y],
                [x, -b],
                [a, -b],
                [a, b],
                [x, b],
                [x, y],
                [-x, y],
                [-x, b],
                [-a, b],
                [-a, -b],
                [-x, -b],
            ]]
        }
        "IFCLSHAPEPROFILEDEF" => {
            let d = positive(3, "Depth")?;
            let w = p
                .params
                .get(4)
                .and_then(Value::as_f64)
                .filter(|v| *v > 0.0)
                .unwrap_or(d);
            let th = positive(5, "Thickness")?;
            let (x, y) = (w / 2.0, d / 2.0);
            vec![vec![
                [-x, -y],
                [x, -y],
                [x, -y + th],
                [-x + th, -y + th],
                [-x + th, y],
                [-x, y],
            ]]
        }
        "IFCTSHAPEPROFILEDEF" => {
            let (d, b, tw, tf) = (
                positive(3, "Depth")?,
                positive(4, "FlangeWidth")?,
                positive(5, "WebThickness")?,
                positive(6, "FlangeThickness")?,
            );
            let (x, y, a) = (b / 2.0, d / 2.0, tw / 2.0);
            vec![vec![
                [-a, -y],
                [a, -y],
                [a, y - tf],
                [x, y - tf],
                [x, y],
                [-x, y],
                [-x, y - tf],
                [-a, y - tf],
            ]]
        }
        "IFCUSHAPEPROFILEDEF" => {
            let (d, b, tw, tf) = (
                positive(3, "Depth")?,
                positive(4, "FlangeWidth")?,
                positive(5, "WebThickness")?,
                positive(6, "FlangeThickness")?,
            );
            let (x, y) = (b / 2.0, d / 2.0);
            vec![vec![
                [-x, -y],
                [x, -y],
                [x, -y + tf],
                [-x + tw, -y + tf],
                [-x + tw, y - tf],
                [x, y - tf],
                [x, y],
                [-x, y],
            ]]
        }
        "IFCCSHAPEPROFILEDEF" => {
            let (d, w, th) = (
                positive(3, "Depth")?,
                positive(4, "Width")?,
                positive(5, "WallThickness")?,
            );
            let g = n(6, "Girth")?.clamp(th, d / 2.0);
            let (x, y) = (w / 2.0, d / 2.0);
            vec![vec![
                [-x, -y],
                [x, -y],
                [x, -y + g],
                [x - th, -y + g],
                [x - th, -y + th],
                [-x + th, -y + th],
                [-x + th, y - th],
                [x - th, y - th],
                [x - th, y - g],
                [x, y - g],
                [x, y],
                [-x, y],
            ]]
        }
        "IFCZSHAPEPROFILEDEF" => {
            let (d, b, tw, tf) = (
                positive(3, "Depth")?,
                positive(4, "FlangeWidth")?,
                positive(5, "WebThickness")?,
                positive(6, "FlangeThickness")?,
            );
            let (y, a) = (d / 2.0, tw / 2.0);
            vec![vec![
                [-a, -y],
                [b - a, -y],
                [b - a, -y + tf],
                [a, -y + tf],
                [a, y],
                [a - b, y],
                [a - b, y - tf],
                [-a, y - tf],
            ]]
        }
        "IFCARBITRARYCLOSEDPROFILEDEF" | "IFCARBITRARYPROFILEDEFWITHVOIDS" => {
            let outer = p
                .params
                .get(2)
                .and_then(Value::as_ref_id)
                .ok_or_else(|| bad(f, format!("#{id}: no OuterCurve")))?;
            let mut rings = vec![curve_2d(f, outer, id, t)?];
            if p.ty == "IFCARBITRARYPROFILEDEFWITHVOIDS" {
                for inner in p.params.get(3).and_then(Value::as_list).unwrap_or(&[]) {
                    if let Some(i) = inner.as_ref_id() {
                        rings.push(curve_2d(f, i, id, t)?);
                    }
                }
            }
            rings
        }
        "IFCDERIVEDPROFILEDEF" => {
            if depth > 8 {
                return Err(bad(
                    f,
                    format!("#{id}: profiles derived too deep (from themselves?)"),
                ));
            }
            let parent = p
                .params
                .get(2)
                .and_then(Value::as_ref_id)
                .ok_or_else(|| bad(f, format!("#{id}: no ParentProfile")))?;
            let rings = profile_at(f, parent, id, t, depth + 1)?;
            let op = match p.params.get(3).and_then(Value::as_ref_id) {
                Some(o) => transformation(f, o, id)?,
                None => super::solid::Affine::IDENTITY,
            };
            let mirrored = op.det() < 0.0;
            rings
                .into_iter()
                .map(|r| {
                    let mut r: Vec<[f64; 2]> = r
                        .into_iter()
                        .map(|q| {
                            let w = op.apply([q[0], q[1], 0.0]);
                            [w[0], w[1]]
                        })
                        .collect();
                    if mirrored {
                        r.reverse();
                    }
                    r
                })
                .collect()
        }
        other => {
            return Err(bad(
                f,
                format!("#{id}: profiles of type {other} are not read yet"),
            ))
        }
    };
    let rings: Profile = if parametric {
        let fr = match p.params.get(2).and_then(Value::as_ref_id) {
            Some(a) => axis2_placement(f, a, id)?,
            None => Frame::IDENTITY,
        };
        rings.into_iter().map(|r| place(&fr, r)).collect()
    } else {
        rings
    };
    if let Some(k) = rings.iter().position(|r| self_intersects(r)) {
        return Err(bad(
            f,
            format!(
                "#{id}: its {} intersects itself",
                if k == 0 {
                    "outer curve".to_string()
                } else {
                    format!("inner curve {k}")
                }
            ),
        ));
    }
    // Outer counter-clockwise, holes clockwise, none closed.
    Ok(rings
        .into_iter()
        .enumerate()
        .map(|(k, r)| oriented(r, k == 0))
        .collect())
}

/// Whether two edges of a closed ring that do not share a point cross (rings of up to 4096
/// points are checked).
fn self_intersects(r: &[[f64; 2]]) -> bool {
    let n = r.len();
    if !(4..=4096).contains(&n) {
        return false;
    }
    let orient =
        |a: [f64; 2], b: [f64; 2], c: [f64; 2]| (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    for i in 0..n {
        let (a, b) = (r[i], r[(i + 1) % n]);
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue;
            }
            let (c, d) = (r[j], r[(j + 1) % n]);
            let (d1, d2) = (orient(a, b, c), orient(a, b, d));
            let (d3, d4) = (orient(c, d, a), orient(c, d, b));
            if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
                && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
            {
                return true;
            }
        }
    }
    false
}

/// An `IfcCartesianTransformationOperator` (2D or 3D, uniform or not) as an affine map.
pub fn transformation(f: &StepFile, id: u64, from: u64) -> Result<super::solid::Affine> {
    let o = f.get_typed(
        id,
        &[
            "IFCCARTESIANTRANSFORMATIONOPERATOR3D",
            "IFCCARTESIANTRANSFORMATIONOPERATOR3DNONUNIFORM",
            "IFCCARTESIANTRANSFORMATIONOPERATOR2D",
            "IFCCARTESIANTRANSFORMATIONOPERATOR2DNONUNIFORM",
        ],
        from,
    )?;
    let dir = |k: usize| -> Result<Option<[f64; 3]>> {
        match o.params.get(k).and_then(Value::as_ref_id) {
            Some(d) => Ok(Some(direction(f, d, id)?)),
            None => Ok(None),
        }
    };
    // A direction of no length stays as it is.
    let unit = |v: [f64; 3]| super::placement::unit(v).unwrap_or(v);
    let origin = match o.params.get(2).and_then(Value::as_ref_id) {
        Some(p) => point(f, p, id)?,
        None => [0.0; 3],
    };
    let scale = o.params.get(3).and_then(Value::as_f64).unwrap_or(1.0);
    let three = o.ty.contains("3D");
    let (s2, s3) = match o.ty.as_str() {
        "IFCCARTESIANTRANSFORMATIONOPERATOR3DNONUNIFORM" => (
            o.params.get(5).and_then(Value::as_f64).unwrap_or(scale),
            o.params.get(6).and_then(Value::as_f64).unwrap_or(scale),
        ),
        "IFCCARTESIANTRANSFORMATIONOPERATOR2DNONUNIFORM" => {
            (o.params.get(4).and_then(Value::as_f64).unwrap_or(scale), scale)
        }
        _ => (scale, scale),
    };
    // Axes as the schema's base axis function: z from Axis3, x from Axis1 square to z, y.
    let z = if three {
        dir(4)?.map(unit).unwrap_or([0.0, 0.0, 1.0])
    } else {
        [0.0, 0.0, 1.0]
    };
    let x0 = dir(0)?.map(unit).unwrap_or(if z[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    });
    let d = dot(x0, z);
    let x = unit(sub(x0, z.map(|c| d * c)));
    let zx = cross(z, x);
    let y = match dir(1)? {
        // A given y that points against z × x mirrors.
        Some(y1) if dot(y1, zx) < 0.0 => zx.map(|c| -c),
        _ => zx,
    };
    Ok(super::solid::Affine {
        m: [x.map(|c| c * scale), y.map(|c| c * s2), z.map(|c| c * s3)],
        t: origin,
    })
}

/// The faces of an `IfcExtrudedAreaSolid` in its item's frame: the profile at the bottom
/// (facing down), the same moved along the extrusion at the top (facing up), and a side face
/// for each edge of each ring.
pub fn extruded_area_solid(f: &StepFile, id: u64, t: &Tess) -> Result<Vec<Face>> {
    let s = f.get(id)?;
    if s.ty != "IFCEXTRUDEDAREASOLID" {
        return Err(bad(f, format!("#{id}: a {} is not an extruded area solid", s.ty)));
    }
    let area = s
        .params
        .first()
        .and_then(Value::as_ref_id)
        .ok_or_else(|| bad(f, format!("#{id}: no SweptArea")))?;
    let rings = profile(f, area, id, t)?;
    let frame = match s.params.get(1).and_then(Value::as_ref_id) {
        Some(a) => axis2_placement(f, a, id)?,
        None => Frame::IDENTITY,
    };
    let dir_id = s
        .params
        .get(2)
        .and_then(Value::as_ref_id)
        .ok_or_else(|| bad(f, format!("#{id}: no ExtrudedDirection")))?;
    let d = direction(f, dir_id, id)?;
    let depth = num(f, &s.params, 3, id, "Depth")?;
    let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    if depth <= 0.0 || len <= 0.0 || d[2].abs() < 1e-9 * len {
        return Err(bad(
            f,
            format!("#{id}: an extrusion of depth {depth} along {d:?}"),
        ));
    }
    let v = [d[0] / len * depth, d[1] / len * depth, d[2] / len * depth];
    // An extrusion downwards turns the profile's faces inside out: flip the rings then.
    let up = v[2] > 0.0;
    let at = |q: [f64; 2], top: bool| {
        let p = if top {
            [q[0] + v[0], q[1] + v[1], v[2]]
        } else {
            [q[0], q[1], 0.0]
        };
        frame.apply(p)
    };
    let mut faces: Vec<Face> = Vec::new();
    let ring3 = |r: &[[f64; 2]], top: bool, reverse: bool| {
        let mut out: Vec<[f64; 3]> = r.iter().map(|q| at(*q, top)).collect();
        if reverse {
            out.reverse();
        }
        out
    };
    faces.push(rings.iter().map(|r| ring3(r, false, up)).collect());
    faces.push(rings.iter().map(|r| ring3(r, true, !up)).collect());
    for r in &rings {
        let n = r.len();
        for k in 0..n {
            let (a, b) = (r[k], r[(k + 1) % n]);
            let mut quad = vec![at(a, false), at(b, false), at(b, true), at(a, true)];
            if !up {
                quad.reverse();
            }
            faces.push(vec![quad]);
        }
    }
    Ok(faces)
}
