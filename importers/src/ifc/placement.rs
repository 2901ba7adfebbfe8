//! Where a product is in the model: its `IfcLocalPlacement` chain (each placement relative to
//! the one it names, up to the site's or the project's), each link an `IfcAxis2Placement3D`
//! (or 2D) made orthonormal as the schema says. A chain that comes back to itself is an error
//! naming the placements in it.

use std::collections::HashMap;

use crate::error::{ImportError, Result};

use super::step::{StepFile, Value};

/// A right-handed frame: the local axes and origin in the frame it is placed in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub x: [f64; 3],
    pub y: [f64; 3],
    pub z: [f64; 3],
    pub origin: [f64; 3],
}

impl Frame {
    pub const IDENTITY: Frame = Frame {
        x: [1.0, 0.0, 0.0],
        y: [0.0, 1.0, 0.0],
        z: [0.0, 0.0, 1.0],
        origin: [0.0, 0.0, 0.0],
    };

    /// A direction in this frame, in the outer one.
    pub fn rotate(&self, v: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|k| self.x[k] * v[0] + self.y[k] * v[1] + self.z[k] * v[2])
    }

    /// A point in this frame, in the outer one.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let r = self.rotate(p);
        [0, 1, 2].map(|k| r[k] + self.origin[k])
    }

    /// `inner` placed in this frame: a point of `inner` goes through `inner`, then this.
    pub fn then_inner(&self, inner: &Frame) -> Frame {
        Frame {
            x: self.rotate(inner.x),
            y: self.rotate(inner.y),
            z: self.rotate(inner.z),
            origin: self.apply(inner.origin),
        }
    }
}

pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// `v` scaled to length 1 (`None` for no length).
pub(crate) fn unit(v: [f64; 3]) -> Option<[f64; 3]> {
    let l = dot(v, v).sqrt();
    (l.is_finite() && l > 1e-12).then(|| [v[0] / l, v[1] / l, v[2] / l])
}

fn bad(f: &StepFile, reason: impl Into<String>) -> ImportError {
    ImportError::file(&f.path, reason)
}

/// The two or three numbers of an instance of type `ty` (`IfcCartesianPoint`, `IfcDirection`:
/// a list of them first), z 0 where two.
fn triple(f: &StepFile, id: u64, from: u64, ty: &str, name: &str) -> Result<[f64; 3]> {
    let p = f.get_typed(id, &[ty], from)?;
    let c: Vec<f64> = p
        .params
        .first()
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    if c.len() < 2 || c.iter().any(|v| !v.is_finite()) {
        return Err(bad(f, format!("#{id} ({name}): not two or three numbers")));
    }
    Ok([c[0], c[1], c.get(2).copied().unwrap_or(0.0)])
}

/// The coordinates of an `IfcCartesianPoint` (two or three; z 0 where two).
pub fn point(f: &StepFile, id: u64, from: u64) -> Result<[f64; 3]> {
    triple(f, id, from, "IFCCARTESIANPOINT", "IfcCartesianPoint")
}

/// The ratios of an `IfcDirection` (z 0 where two).
pub fn direction(f: &StepFile, id: u64, from: u64) -> Result<[f64; 3]> {
    triple(f, id, from, "IFCDIRECTION", "IfcDirection")
}

/// The frame of an `IfcAxis2Placement3D` or `IfcAxis2Placement2D`: its location, its z axis
/// (`Axis`, else up) and its x axis (`RefDirection` made square to z, else the world x made
/// square to z).
pub fn axis2_placement(f: &StepFile, id: u64, from: u64) -> Result<Frame> {
    let a = f.get_typed(id, &["IFCAXIS2PLACEMENT3D", "IFCAXIS2PLACEMENT2D"], from)?;
    let location = match a.params.first().and_then(Value::as_ref_id) {
        Some(p) => point(f, p, id)?,
        None => return Err(bad(f, format!("#{id} ({}): no location", a.ty))),
    };
    let (axis, refd) = if a.ty == "IFCAXIS2PLACEMENT3D" {
        let axis = match a.params.get(1).and_then(Value::as_ref_id) {
            Some(d) => Some(direction(f, d, id)?),
            None => None,
        };
        let refd = match a.params.get(2).and_then(Value::as_ref_id) {
            Some(d) => Some(direction(f, d, id)?),
            None => None,
        };
        (axis, refd)
    } else {
        let refd = match a.params.get(1).and_then(Value::as_ref_id) {
            Some(d) => Some(direction(f, d, id)?),
            None => None,
        };
        (None, refd)
    };
    let z = match axis {
        Some(d) => unit(d).ok_or_else(|| bad(f, format!("#{id}: its Axis has no length")))?,
        None => [0.0, 0.0, 1.0],
    };
    let wanted_x = refd.unwrap_or(if z[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 0.0, 1.0]
    });
    // x: the reference direction less its part along z.
    let x = unit(sub(wanted_x, [0, 1, 2].map(|k| dot(wanted_x, z) * z[k])))
        .ok_or_else(|| bad(f, format!("#{id}: its RefDirection is parallel to its Axis")))?;
    let y = cross(z, x);
    Ok(Frame {
        x,
        y,
        z,
        origin: location,
    })
}

/// Placements worked out so far, each once.
#[derive(Default)]
pub struct Placements {
    done: HashMap<u64, Frame>,
}

impl Placements {
    /// The frame of `IfcLocalPlacement` `id` in the model's world (its chain followed up).
    pub fn world(&mut self, f: &StepFile, id: u64) -> Result<Frame> {
        if let Some(fr) = self.done.get(&id) {
            return Ok(*fr);
        }
        // Up the chain to a placement known or placed in the world, then back down.
        let mut chain: Vec<(u64, Frame)> = Vec::new();
        let mut at = id;
        let mut outer = Frame::IDENTITY;
        loop {
            if let Some(fr) = self.done.get(&at) {
                outer = *fr;
                break;
            }
            if chain.iter().any(|(c, _)| *c == at) {
                let ids: Vec<String> = chain.iter().map(|(c, _)| format!("#{c}")).collect();
                return Err(bad(
                    f,
                    format!(
                        "#{at}: a placement that refers to itself (through {} and back)",
                        ids.join(" → ")
                    ),
                ));
            }
            let from = chain.last().map_or(at, |(c, _)| *c);
            let p = f
                .get_typed(at, &["IFCLOCALPLACEMENT"], from)
                .map_err(|e| match f.type_of(at) {
                    Some(t) if t != "IFCLOCALPLACEMENT" => bad(
                        f,
                        format!("#{at}: placements of type {t} are not read yet (only IfcLocalPlacement)"),
                    ),
                    _ => e,
                })?;
            let relative = match p.params.get(1).and_then(Value::as_ref_id) {
                Some(r) => axis2_placement(f, r, at)?,
                None => return Err(bad(f, format!("#{at} (IfcLocalPlacement): no RelativePlacement"))),
            };
            chain.push((at, relative));
            match p.params.first().and_then(Value::as_ref_id) {
                Some(parent) => at = parent,
                None => break,
            }
        }
        for (c, relative) in chain.into_iter().rev() {
            outer = outer.then_inner(&relative);
            self.done.insert(c, outer);
        }
        Ok(outer)
    }
}
