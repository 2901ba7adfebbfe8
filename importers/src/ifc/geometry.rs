//! IFC geometry, item by item, as faces (outer ring then holes, counter-clockwise seen from
//! outside) in the item's own frame. Curves are cut into segments no further than a stated
//! tolerance from the true curve. So far: profiles (rectangle, circle, arbitrary closed
//! profiles from polylines and indexed poly curves of lines, with voids) and extruded area
//! solids.

use crate::error::{ImportError, Result};

use super::placement::{axis2_placement, direction, point, Frame};
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

/// The points of a closed 2-D curve: an `IfcPolyline`, or an `IfcIndexedPolyCurve` of line
/// segments.
fn curve_2d(f: &StepFile, id: u64, from: u64) -> Result<Vec<[f64; 2]>> {
    let c = f
        .get_typed(id, &["IFCPOLYLINE", "IFCINDEXEDPOLYCURVE"], from)
        .map_err(|e| match f.type_of(id) {
            Some(t) if t != "IFCPOLYLINE" && t != "IFCINDEXEDPOLYCURVE" => {
                bad(f, format!("#{id}: curves of type {t} are not read yet"))
            }
            _ => e,
        })?;
    let pts = if c.ty == "IFCPOLYLINE" {
        let mut out = Vec::new();
        for p in c.params.first().and_then(Value::as_list).unwrap_or(&[]) {
            let Some(pid) = p.as_ref_id() else { continue };
            let q = point(f, pid, id)?;
            out.push([q[0], q[1]]);
        }
        out
    } else {
        // Points (IfcCartesianPointList2D), and segments: only lines so far.
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
        match c.params.get(1).and_then(Value::as_list) {
            None => coords,
            Some(segments) => {
                let mut out: Vec<[f64; 2]> = Vec::new();
                for s in segments {
                    let Value::Typed(kind, v) = s else { continue };
                    if kind != "IFCLINEINDEX" {
                        return Err(bad(f, format!("#{id}: {kind} segments are not read yet")));
                    }
                    let idx: Vec<usize> = match v.as_ref() {
                        Value::List(l) => l.iter().filter_map(|i| i.as_f64()).map(|i| i as usize).collect(),
                        other => other.as_f64().map(|i| vec![i as usize]).unwrap_or_default(),
                    };
                    for i in idx {
                        let p = *coords
                            .get(i.wrapping_sub(1))
                            .ok_or_else(|| bad(f, format!("#{id}: point index {i} out of range")))?;
                        if out.last() != Some(&p) {
                            out.push(p);
                        }
                    }
                }
                out
            }
        }
    };
    if pts.len() < 3 {
        return Err(bad(f, format!("#{id}: a closed curve of fewer than 3 points")));
    }
    Ok(pts)
}

/// A profile definition as rings in its own plane, its `Position` applied.
pub fn profile(f: &StepFile, id: u64, from: u64, tol: f64) -> Result<Profile> {
    let p = f
        .get(id)
        .map_err(|_| bad(f, format!("#{from} refers to #{id}, which is not in the file")))?;
    let position = |k: usize| -> Result<Frame> {
        match p.params.get(k).and_then(Value::as_ref_id) {
            Some(a) => axis2_placement(f, a, id),
            None => Ok(Frame::IDENTITY),
        }
    };
    let place = |fr: &Frame, ring: Vec<[f64; 2]>| -> Vec<[f64; 2]> {
        ring.into_iter()
            .map(|q| {
                let w = fr.apply([q[0], q[1], 0.0]);
                [w[0], w[1]]
            })
            .collect()
    };
    let rings: Profile = match p.ty.as_str() {
        "IFCRECTANGLEPROFILEDEF" => {
            let (x, y) = (
                num(f, &p.params, 3, id, "XDim")?,
                num(f, &p.params, 4, id, "YDim")?,
            );
            if x <= 0.0 || y <= 0.0 {
                return Err(bad(f, format!("#{id}: a rectangle of {x} × {y}")));
            }
            let (hx, hy) = (x / 2.0, y / 2.0);
            vec![place(
                &position(2)?,
                vec![[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]],
            )]
        }
        "IFCCIRCLEPROFILEDEF" | "IFCCIRCLEHOLLOWPROFILEDEF" => {
            let r = num(f, &p.params, 3, id, "Radius")?;
            if r <= 0.0 {
                return Err(bad(f, format!("#{id}: a circle of radius {r}")));
            }
            let n = circle_segments(r, tol);
            let circle = |r: f64| -> Vec<[f64; 2]> {
                (0..n)
                    .map(|k| {
                        let a = std::f64::consts::TAU * k as f64 / n as f64;
                        [r * a.cos(), r * a.sin()]
                    })
                    .collect()
            };
            let fr = position(2)?;
            let mut rings = vec![place(&fr, circle(r))];
            if p.ty == "IFCCIRCLEHOLLOWPROFILEDEF" {
                let wall = num(f, &p.params, 4, id, "WallThickness")?;
                if wall > 0.0 && wall < r {
                    rings.push(place(&fr, circle(r - wall)));
                }
            }
            rings
        }
        "IFCARBITRARYCLOSEDPROFILEDEF" | "IFCARBITRARYPROFILEDEFWITHVOIDS" => {
            let outer = p
                .params
                .get(2)
                .and_then(Value::as_ref_id)
                .ok_or_else(|| bad(f, format!("#{id}: no OuterCurve")))?;
            let mut rings = vec![curve_2d(f, outer, id)?];
            if p.ty == "IFCARBITRARYPROFILEDEFWITHVOIDS" {
                for inner in p.params.get(3).and_then(Value::as_list).unwrap_or(&[]) {
                    if let Some(i) = inner.as_ref_id() {
                        rings.push(curve_2d(f, i, id)?);
                    }
                }
            }
            rings
        }
        other => {
            return Err(bad(
                f,
                format!("#{id}: profiles of type {other} are not read yet"),
            ))
        }
    };
    // Outer counter-clockwise, holes clockwise, none closed.
    Ok(rings
        .into_iter()
        .enumerate()
        .map(|(k, r)| oriented(r, k == 0))
        .collect())
}

/// The faces of an `IfcExtrudedAreaSolid` in its item's frame: the profile at the bottom
/// (facing down), the same moved along the extrusion at the top (facing up), and a side face
/// for each edge of each ring.
pub fn extruded_area_solid(f: &StepFile, id: u64, tol: f64) -> Result<Vec<Face>> {
    let s = f.get(id)?;
    if s.ty != "IFCEXTRUDEDAREASOLID" {
        return Err(bad(f, format!("#{id}: a {} is not an extruded area solid", s.ty)));
    }
    let area = s
        .params
        .first()
        .and_then(Value::as_ref_id)
        .ok_or_else(|| bad(f, format!("#{id}: no SweptArea")))?;
    let rings = profile(f, area, id, tol)?;
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
