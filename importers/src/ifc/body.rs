//! A product's body: its `Body` shape representation walked item by item into triangles in the
//! product's own frame. Items: extruded and revolved area solids, faceted and (planar) advanced
//! breps, face-based and shell-based surface models, triangulated and polygonal face sets,
//! mapped items (type geometry, cached per representation map), CSG solids and their primitives
//! (block, pyramid, cylinder, cone, sphere), and boolean results and clipping with half-spaces
//! (plain and polygon-bounded) or other solids.

use std::collections::HashMap;
use std::rc::Rc;

use crate::error::{ImportError, Result};

use super::geometry::{circle_segments, extruded_area_solid, profile, transformation, Face, Tess};
use super::placement::{axis2_placement, direction, point, Frame};
use super::solid::{
    boolean, bounds, cross, cuboid, dot, orient_closed, sub, triangulate_faces, volume, Affine, Op, Tri,
};
use super::step::{Instance, StepFile, Value};

fn bad(f: &StepFile, reason: impl Into<String>) -> ImportError {
    ImportError::file(&f.path, reason)
}

/// The representation identifiers taken for a body, best first.
const BODY_IDS: [&str; 2] = ["Body", "Facetation"];

/// Representation identifiers that are not the shape of the thing itself.
const NOT_BODY_IDS: [&str; 6] = ["Clearance", "Box", "Lighting", "Annotation", "Reference", "CoG"];

/// Representation types that are 3-D geometry.
const SOLID_TYPES: [&str; 12] = [
    "SweptSolid",
    "AdvancedSweptSolid",
    "Brep",
    "AdvancedBrep",
    "SurfaceModel",
    "Tessellation",
    "MappedRepresentation",
    "CSG",
    "Clipping",
    "SolidModel",
    "AdvancedSurface",
    "SectionedSpine",
];

/// Reads bodies, keeping the geometry of representation maps (types) it has built.
pub struct Bodies<'f> {
    f: &'f StepFile,
    pub tess: Tess,
    /// Points closer than this are one (project units).
    pub eps: f64,
    maps: HashMap<u64, Rc<Vec<Tri>>>,
    /// Items being read, one inside another (a cycle of references would never end).
    depth: usize,
    /// Items left out (a type not read, or an item that failed), as messages.
    pub warnings: Vec<String>,
}

impl<'f> Bodies<'f> {
    pub fn new(f: &'f StepFile, tess: Tess, eps: f64) -> Bodies<'f> {
        Bodies {
            f,
            tess,
            eps,
            maps: HashMap::new(),
            depth: 0,
            warnings: Vec::new(),
        }
    }

    /// The body representation (an `IfcShapeRepresentation`) of a product's
    /// `IfcProductDefinitionShape`, if it has one.
    pub fn body_representation(&self, shape: u64, product: u64) -> Result<Option<u64>> {
        let f = self.f;
        let s = f.get_typed(
            shape,
            &["IFCPRODUCTDEFINITIONSHAPE", "IFCMATERIALDEFINITIONREPRESENTATION"],
            product,
        )?;
        let mut reps: Vec<(u64, String, String)> = Vec::new();
        for r in s.params.get(2).and_then(Value::as_list).unwrap_or(&[]) {
            let Some(rid) = r.as_ref_id() else { continue };
            let rep = f.get(rid)?;
            if rep.ty != "IFCSHAPEREPRESENTATION" {
                continue;
            }
            let ident = rep
                .params
                .get(1)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let ty = rep
                .params
                .get(2)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            reps.push((rid, ident, ty));
        }
        for want in BODY_IDS {
            if let Some((rid, _, _)) = reps
                .iter()
                .find(|(_, i, t)| i == want && SOLID_TYPES.contains(&t.as_str()))
            {
                return Ok(Some(*rid));
            }
        }
        // Else one of a 3-D type that is not a clearance, box or other stand-in ('Surface' of a
        // terrain, an unnamed one).
        Ok(reps
            .iter()
            .find(|(_, i, t)| !NOT_BODY_IDS.contains(&i.as_str()) && SOLID_TYPES.contains(&t.as_str()))
            .map(|(rid, _, _)| *rid))
    }

    /// The triangles of a shape representation's items, in its frame. Items that fail are left
    /// out with a warning; where every item fails, the first failure is the error.
    pub fn representation(&mut self, rep: u64, from: u64) -> Result<Vec<Tri>> {
        let r = self.f.get_typed(rep, &["IFCSHAPEREPRESENTATION"], from)?;
        let mut out = Vec::new();
        let mut failed: Vec<ImportError> = Vec::new();
        for item in r.params.get(3).and_then(Value::as_list).unwrap_or(&[]) {
            let Some(id) = item.as_ref_id() else { continue };
            match self.item(id, rep) {
                Ok(mut tris) => out.append(&mut tris),
                Err(e) => failed.push(e),
            }
        }
        if out.is_empty() && !failed.is_empty() {
            return Err(failed.remove(0));
        }
        self.warnings
            .extend(failed.iter().map(|e| format!("an item left out: {}", e.reason())));
        Ok(out)
    }

    /// One representation item as triangles facing out.
    pub fn item(&mut self, id: u64, from: u64) -> Result<Vec<Tri>> {
        if self.depth >= 64 {
            return Err(bad(
                self.f,
                format!("#{id}: items nested too deep (an item made of itself?)"),
            ));
        }
        self.depth += 1;
        let r = self.item_at(id, from);
        self.depth -= 1;
        r
    }

    fn item_at(&mut self, id: u64, from: u64) -> Result<Vec<Tri>> {
        let f = self.f;
        let it = f
            .get(id)
            .map_err(|_| bad(f, format!("#{from} refers to #{id}, which is not in the file")))?;
        let mut out = Vec::new();
        let mut faces: Vec<Face> = Vec::new();
        let solid = match it.ty.as_str() {
            "IFCEXTRUDEDAREASOLID" => {
                faces = extruded_area_solid(f, id, &self.tess)?;
                true
            }
            "IFCREVOLVEDAREASOLID" => {
                out = self.revolved(&it)?;
                true
            }
            "IFCFACETEDBREP" | "IFCFACETEDBREPWITHVOIDS" | "IFCADVANCEDBREP" | "IFCADVANCEDBREPWITHVOIDS" => {
                let outer = it
                    .params
                    .first()
                    .and_then(Value::as_ref_id)
                    .ok_or_else(|| bad(f, format!("#{id}: no Outer shell")))?;
                self.shell(outer, id, &mut faces)?;
                triangulate_faces(&faces, &mut out);
                faces.clear();
                // Voids: inner shells, facing in.
                for v in it.params.get(1).and_then(Value::as_list).unwrap_or(&[]) {
                    let Some(vid) = v.as_ref_id() else { continue };
                    let mut inner = Vec::new();
                    self.shell(vid, id, &mut inner)?;
                    let mut tris = Vec::new();
                    triangulate_faces(&inner, &mut tris);
                    if volume(&tris) > 0.0 {
                        tris.iter_mut().for_each(|t| t.swap(1, 2));
                    }
                    out.append(&mut tris);
                }
                true
            }
            "IFCFACEBASEDSURFACEMODEL" | "IFCSHELLBASEDSURFACEMODEL" => {
                // Each face set turned outward where it is closed.
                for s in it.params.first().and_then(Value::as_list).unwrap_or(&[]) {
                    if let Some(sid) = s.as_ref_id() {
                        let mut set = Vec::new();
                        self.shell(sid, id, &mut set)?;
                        let mut tris = Vec::new();
                        triangulate_faces(&set, &mut tris);
                        orient_closed(&mut tris, self.eps);
                        out.append(&mut tris);
                    }
                }
                false
            }
            "IFCCLOSEDSHELL" | "IFCOPENSHELL" | "IFCCONNECTEDFACESET" => {
                self.shell(id, from, &mut faces)?;
                it.ty == "IFCCLOSEDSHELL"
            }
            "IFCTRIANGULATEDFACESET" | "IFCTRIANGULATEDIRREGULARNETWORK" | "IFCPOLYGONALFACESET" => {
                self.face_set(&it, &mut faces)?;
                let closed_at = if it.ty == "IFCPOLYGONALFACESET" { 1 } else { 2 };
                it.params.get(closed_at).and_then(Value::as_enum) == Some("T")
            }
            "IFCMAPPEDITEM" => {
                out = self.mapped(&it)?;
                false
            }
            "IFCBOOLEANRESULT" | "IFCBOOLEANCLIPPINGRESULT" => {
                out = self.boolean_result(&it, 0)?;
                false
            }
            "IFCCSGSOLID" => {
                let root = it
                    .params
                    .first()
                    .and_then(Value::as_ref_id)
                    .ok_or_else(|| bad(f, format!("#{id}: no TreeRootExpression")))?;
                out = self.operand(root, id, None, 0)?;
                false
            }
            "IFCBLOCK"
            | "IFCRECTANGULARPYRAMID"
            | "IFCRIGHTCIRCULARCYLINDER"
            | "IFCRIGHTCIRCULARCONE"
            | "IFCSPHERE" => {
                out = self.primitive(&it)?;
                true
            }
            other => {
                return Err(bad(
                    f,
                    format!("#{id}: representation items of type {other} are not read yet"),
                ));
            }
        };
        if !faces.is_empty() {
            triangulate_faces(&faces, &mut out);
        }
        // A closed solid whose faces run the wrong way round is turned out.
        if solid && volume(&out) < 0.0 {
            out.iter_mut().for_each(|t| t.swap(1, 2));
        }
        Ok(out)
    }

    /// The faces of a shell or connected face set.
    fn shell(&mut self, id: u64, from: u64, faces: &mut Vec<Face>) -> Result<()> {
        let f = self.f;
        let s = f.get_typed(
            id,
            &["IFCCLOSEDSHELL", "IFCOPENSHELL", "IFCCONNECTEDFACESET"],
            from,
        )?;
        for face in s.params.first().and_then(Value::as_list).unwrap_or(&[]) {
            let Some(fid) = face.as_ref_id() else { continue };
            let fc = f.get_typed(fid, &["IFCFACE", "IFCFACESURFACE", "IFCADVANCEDFACE"], id)?;
            if fc.ty == "IFCADVANCEDFACE" {
                let surf = fc.params.get(1).and_then(Value::as_ref_id);
                let planar = surf.and_then(|s| f.type_of(s)) == Some("IFCPLANE");
                if !planar {
                    return Err(bad(
                        f,
                        format!(
                            "#{fid}: advanced faces on a {} are not read yet (only planar ones)",
                            surf.and_then(|s| f.type_of(s)).unwrap_or("missing surface")
                        ),
                    ));
                }
            }
            let mut outer: Option<Vec<[f64; 3]>> = None;
            let mut holes: Vec<Vec<[f64; 3]>> = Vec::new();
            for b in fc.params.first().and_then(Value::as_list).unwrap_or(&[]) {
                let Some(bid) = b.as_ref_id() else { continue };
                let bound = f.get_typed(bid, &["IFCFACEOUTERBOUND", "IFCFACEBOUND"], fid)?;
                let loop_id = bound
                    .params
                    .first()
                    .and_then(Value::as_ref_id)
                    .ok_or_else(|| bad(f, format!("#{bid}: no Bound")))?;
                let mut ring = self.face_loop(loop_id, bid)?;
                if bound.params.get(1).and_then(Value::as_enum) == Some("F") {
                    ring.reverse();
                }
                if bound.ty == "IFCFACEOUTERBOUND" && outer.is_none() {
                    outer = Some(ring);
                } else {
                    holes.push(ring);
                }
            }
            // Without an outer bound the first is the outer one.
            let outer = match outer {
                Some(o) => o,
                None if !holes.is_empty() => holes.remove(0),
                None => continue,
            };
            let mut face = vec![outer];
            face.extend(holes);
            faces.push(face);
        }
        Ok(())
    }

    /// The points of a face's loop: an `IfcPolyLoop`, or an `IfcEdgeLoop` of straight edges.
    fn face_loop(&self, id: u64, from: u64) -> Result<Vec<[f64; 3]>> {
        let f = self.f;
        let l = f.get_typed(id, &["IFCPOLYLOOP", "IFCEDGELOOP"], from)?;
        let mut ring = Vec::new();
        if l.ty == "IFCPOLYLOOP" {
            for p in l.params.first().and_then(Value::as_list).unwrap_or(&[]) {
                if let Some(pid) = p.as_ref_id() {
                    ring.push(point(f, pid, id)?);
                }
            }
            return Ok(ring);
        }
        for e in l.params.first().and_then(Value::as_list).unwrap_or(&[]) {
            let Some(eid) = e.as_ref_id() else { continue };
            let oe = f.get_typed(eid, &["IFCORIENTEDEDGE"], id)?;
            let curve = oe
                .params
                .get(2)
                .and_then(Value::as_ref_id)
                .ok_or_else(|| bad(f, format!("#{eid}: no EdgeElement")))?;
            let forward = oe.params.get(3).and_then(Value::as_enum) != Some("F");
            let ec = f.get_typed(curve, &["IFCEDGECURVE", "IFCEDGE"], eid)?;
            let vertex = |k: usize| -> Result<[f64; 3]> {
                let v = ec
                    .params
                    .get(k)
                    .and_then(Value::as_ref_id)
                    .ok_or_else(|| bad(f, format!("#{curve}: no vertex")))?;
                let vp = f.get_typed(v, &["IFCVERTEXPOINT"], curve)?;
                let p = vp
                    .params
                    .first()
                    .and_then(Value::as_ref_id)
                    .ok_or_else(|| bad(f, format!("#{v}: no VertexGeometry")))?;
                point(f, p, v)
            };
            let (a, b) = (vertex(0)?, vertex(1)?);
            // Points along a polyline edge; any other edge curve by its ends.
            let mut pts = vec![a];
            if let Some(g) = ec.params.get(2).and_then(Value::as_ref_id) {
                if f.type_of(g) == Some("IFCPOLYLINE") {
                    let pl = f.get(g)?;
                    let inner: Vec<u64> = pl
                        .params
                        .first()
                        .and_then(Value::as_list)
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(Value::as_ref_id)
                        .collect();
                    let mut mid: Vec<[f64; 3]> = Vec::new();
                    for pid in inner.iter().skip(1).take(inner.len().saturating_sub(2)) {
                        mid.push(point(f, *pid, g)?);
                    }
                    if ec.params.get(3).and_then(Value::as_enum) == Some("F") {
                        mid.reverse();
                    }
                    pts.extend(mid);
                }
            }
            pts.push(b);
            if !forward {
                pts.reverse();
            }
            // Each edge adds all but its end (the next edge's start).
            pts.pop();
            ring.extend(pts);
        }
        Ok(ring)
    }

    /// The faces of an `IfcTriangulatedFaceSet` or `IfcPolygonalFaceSet`.
    fn face_set(&self, it: &Instance, faces: &mut Vec<Face>) -> Result<()> {
        let f = self.f;
        let id = it.id;
        let coords_id = it
            .params
            .first()
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no Coordinates")))?;
        let cl = f.get_typed(coords_id, &["IFCCARTESIANPOINTLIST3D"], id)?;
        let coords: Vec<[f64; 3]> = cl
            .params
            .first()
            .and_then(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .map(|p| {
                let v: Vec<f64> = p
                    .as_list()
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(Value::as_f64)
                    .collect();
                [
                    v.first().copied().unwrap_or(f64::NAN),
                    v.get(1).copied().unwrap_or(f64::NAN),
                    v.get(2).copied().unwrap_or(0.0),
                ]
            })
            .collect();
        let polygonal = it.ty == "IFCPOLYGONALFACESET";
        let pn_at = if polygonal { 3 } else { 4 };
        let pn: Option<Vec<usize>> = it
            .params
            .get(pn_at)
            .and_then(Value::as_list)
            .map(|l| l.iter().filter_map(Value::as_f64).map(|v| v as usize).collect());
        let at = |i: usize| -> Result<[f64; 3]> {
            let k = match &pn {
                Some(map) => *map
                    .get(i.wrapping_sub(1))
                    .ok_or_else(|| bad(f, format!("#{id}: index {i} beyond its PnIndex")))?,
                None => i,
            };
            coords
                .get(k.wrapping_sub(1))
                .copied()
                .filter(|p| p.iter().all(|c| c.is_finite()))
                .ok_or_else(|| bad(f, format!("#{id}: point index {k} out of range")))
        };
        let indices = |v: &Value| -> Vec<usize> {
            v.as_list()
                .unwrap_or(&[])
                .iter()
                .filter_map(Value::as_f64)
                .map(|i| i as usize)
                .collect()
        };
        if !polygonal {
            for t in it.params.get(3).and_then(Value::as_list).unwrap_or(&[]) {
                let ix = indices(t);
                if ix.len() != 3 {
                    return Err(bad(f, format!("#{id}: a triangle of {} points", ix.len())));
                }
                faces.push(vec![vec![at(ix[0])?, at(ix[1])?, at(ix[2])?]]);
            }
            return Ok(());
        }
        for fv in it.params.get(2).and_then(Value::as_list).unwrap_or(&[]) {
            let Some(fid) = fv.as_ref_id() else { continue };
            let face = f.get_typed(
                fid,
                &["IFCINDEXEDPOLYGONALFACE", "IFCINDEXEDPOLYGONALFACEWITHVOIDS"],
                id,
            )?;
            let mut rings = Vec::new();
            let outer: Result<Vec<[f64; 3]>> = indices(face.params.first().unwrap_or(&Value::Null))
                .into_iter()
                .map(at)
                .collect();
            rings.push(outer?);
            for h in face.params.get(1).and_then(Value::as_list).unwrap_or(&[]) {
                let hole: Result<Vec<[f64; 3]>> = indices(h).into_iter().map(at).collect();
                rings.push(hole?);
            }
            faces.push(rings);
        }
        Ok(())
    }

    /// An `IfcMappedItem`: the mapped representation in the map's origin, then the target
    /// transformation.
    fn mapped(&mut self, it: &Instance) -> Result<Vec<Tri>> {
        let f = self.f;
        let id = it.id;
        let map = it
            .params
            .first()
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no MappingSource")))?;
        let target = match it.params.get(1).and_then(Value::as_ref_id) {
            Some(t) => transformation(f, t, id)?,
            None => Affine::IDENTITY,
        };
        let geometry = match self.maps.get(&map) {
            Some(g) => g.clone(),
            None => {
                let m = f.get_typed(map, &["IFCREPRESENTATIONMAP"], id)?;
                let origin = match m.params.first().and_then(Value::as_ref_id) {
                    Some(o) => match f.type_of(o) {
                        Some("IFCCARTESIANTRANSFORMATIONOPERATOR3D")
                        | Some("IFCCARTESIANTRANSFORMATIONOPERATOR3DNONUNIFORM") => {
                            transformation(f, o, map)?
                        }
                        _ => Affine::from_frame(&axis2_placement(f, o, map)?),
                    },
                    None => Affine::IDENTITY,
                };
                let rep = m
                    .params
                    .get(1)
                    .and_then(Value::as_ref_id)
                    .ok_or_else(|| bad(f, format!("#{map}: no MappedRepresentation")))?;
                if self.maps.len() > 100_000 {
                    self.maps.clear();
                }
                // A map that maps itself would recurse: mark it as being built.
                self.maps.insert(map, Rc::new(Vec::new()));
                let mut tris = self.representation(rep, map)?;
                origin.apply_tris(&mut tris);
                let g = Rc::new(tris);
                self.maps.insert(map, g.clone());
                g
            }
        };
        let mut tris = geometry.as_ref().clone();
        target.apply_tris(&mut tris);
        Ok(tris)
    }

    /// An operand of a boolean: a solid, a half-space (built as a box big enough to cover
    /// `against`, the other operand's bounds), a CSG primitive or another boolean.
    fn operand(
        &mut self,
        id: u64,
        from: u64,
        against: Option<([f64; 3], [f64; 3])>,
        depth: usize,
    ) -> Result<Vec<Tri>> {
        let f = self.f;
        if depth > 64 {
            return Err(bad(
                f,
                format!("#{id}: booleans nested too deep (an operand made of itself?)"),
            ));
        }
        let it = f
            .get(id)
            .map_err(|_| bad(f, format!("#{from}: its operand #{id} is not in the file")))?;
        match it.ty.as_str() {
            "IFCBOOLEANRESULT" | "IFCBOOLEANCLIPPINGRESULT" => self.boolean_result(&it, depth + 1),
            "IFCHALFSPACESOLID" | "IFCBOXEDHALFSPACE" | "IFCPOLYGONALBOUNDEDHALFSPACE" => {
                let Some(b) = against else {
                    return Err(bad(
                        f,
                        format!("#{id}: a half-space as the first operand of #{from}"),
                    ));
                };
                self.half_space(&it, b)
            }
            _ => self.item(id, from),
        }
    }

    fn boolean_result(&mut self, it: &Instance, depth: usize) -> Result<Vec<Tri>> {
        let f = self.f;
        let id = it.id;
        let op = match it.params.first().and_then(Value::as_enum) {
            Some("DIFFERENCE") => Op::Difference,
            Some("INTERSECTION") => Op::Intersection,
            Some("UNION") => Op::Union,
            other => return Err(bad(f, format!("#{id}: a boolean operator {other:?}"))),
        };
        let first = it
            .params
            .get(1)
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no FirstOperand")))?;
        let second = it
            .params
            .get(2)
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no SecondOperand")))?;
        let a = self.operand(first, id, None, depth)?;
        let Some(ab) = bounds(&a) else {
            return Ok(a);
        };
        let b = self.operand(second, id, Some(ab), depth)?;
        Ok(boolean(&a, &b, op, self.eps))
    }

    /// A half-space as a closed solid: a box on the material side of its plane (the side its
    /// normal points away from where `AgreementFlag` is true), large enough to hold `against`;
    /// a polygon-bounded one cut to the prism of its boundary.
    fn half_space(&mut self, it: &Instance, against: ([f64; 3], [f64; 3])) -> Result<Vec<Tri>> {
        let f = self.f;
        let id = it.id;
        let plane = it
            .params
            .first()
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no BaseSurface")))?;
        let pl = f.get_typed(plane, &["IFCPLANE"], id)?;
        let frame = match pl.params.first().and_then(Value::as_ref_id) {
            Some(a) => axis2_placement(f, a, plane)?,
            None => Frame::IDENTITY,
        };
        let agreement = it.params.get(1).and_then(Value::as_enum) != Some("F");
        // Big enough: everything of `against` lies within `l` of the plane's origin.
        let (lo, hi) = against;
        let corner_far = (0..8)
            .map(|k| {
                let c = [
                    if k & 1 == 0 { lo[0] } else { hi[0] },
                    if k & 2 == 0 { lo[1] } else { hi[1] },
                    if k & 4 == 0 { lo[2] } else { hi[2] },
                ];
                dot(sub(c, frame.origin), sub(c, frame.origin)).sqrt()
            })
            .fold(0.0, f64::max);
        let l = 2.0 * corner_far + 1.0;
        let (z0, z1) = if agreement { (-l, 0.0) } else { (0.0, l) };
        let mut half = cuboid([-l, -l, z0], [l, l, z1]);
        Affine::from_frame(&frame).apply_tris(&mut half);
        if it.ty != "IFCPOLYGONALBOUNDEDHALFSPACE" {
            return Ok(half);
        }
        // The boundary's prism, along the z of its own position, as long as the box.
        let pos = match it.params.get(2).and_then(Value::as_ref_id) {
            Some(a) => axis2_placement(f, a, id)?,
            None => Frame::IDENTITY,
        };
        let boundary = it
            .params
            .get(3)
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no PolygonalBoundary")))?;
        let mut ring = super::geometry::curve_points(f, boundary, id, &self.tess)?;
        while ring.len() > 1 && ring.first() == ring.last() {
            ring.pop();
        }
        if ring.len() < 3 {
            return Err(bad(
                f,
                format!("#{id}: a polygonal boundary of fewer than 3 points"),
            ));
        }
        let far = l + dot(sub(pos.origin, frame.origin), sub(pos.origin, frame.origin)).sqrt();
        let mut prism = prism(&ring, -far, far);
        Affine::from_frame(&pos).apply_tris(&mut prism);
        Ok(boolean(&half, &prism, Op::Intersection, self.eps))
    }

    /// An `IfcRevolvedAreaSolid`: its profile turned about its axis by its angle.
    fn revolved(&mut self, it: &Instance) -> Result<Vec<Tri>> {
        let f = self.f;
        let id = it.id;
        let area = it
            .params
            .first()
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no SweptArea")))?;
        let rings = profile(f, area, id, &self.tess)?;
        let frame = match it.params.get(1).and_then(Value::as_ref_id) {
            Some(a) => axis2_placement(f, a, id)?,
            None => Frame::IDENTITY,
        };
        let axis_id = it
            .params
            .get(2)
            .and_then(Value::as_ref_id)
            .ok_or_else(|| bad(f, format!("#{id}: no Axis")))?;
        let ax = f.get_typed(axis_id, &["IFCAXIS1PLACEMENT"], id)?;
        let origin = match ax.params.first().and_then(Value::as_ref_id) {
            Some(p) => point(f, p, axis_id)?,
            None => [0.0; 3],
        };
        let dir = match ax.params.get(1).and_then(Value::as_ref_id) {
            Some(d) => direction(f, d, axis_id)?,
            None => [0.0, 0.0, 1.0],
        };
        let len = dot(dir, dir).sqrt();
        if len < 1e-12 {
            return Err(bad(f, format!("#{axis_id}: an axis without direction")));
        }
        let k = dir.map(|c| c / len);
        let angle = it
            .params
            .get(3)
            .and_then(Value::as_f64)
            .ok_or_else(|| bad(f, format!("#{id}: no Angle")))?
            * self.tess.angle_rad;
        if angle.abs() < 1e-9 {
            return Err(bad(f, format!("#{id}: a revolution through no angle")));
        }
        let full = angle.abs() >= std::f64::consts::TAU - 1e-9;
        let angle = angle.clamp(-std::f64::consts::TAU, std::f64::consts::TAU);
        // Far the profile reaches from the axis decides the steps.
        let radius = rings
            .iter()
            .flatten()
            .map(|q| {
                let v = sub([q[0], q[1], 0.0], origin);
                let along = dot(v, k);
                dot(v, v) - along * along
            })
            .fold(0.0, f64::max)
            .sqrt();
        let steps = ((circle_segments(radius, self.tess.tol) as f64 * angle.abs() / std::f64::consts::TAU)
            .ceil() as usize)
            .max(2);
        let turn = |p: [f64; 3], a: f64| -> [f64; 3] {
            let v = sub(p, origin);
            let (s, c) = a.sin_cos();
            let kv = cross(k, v);
            let kd = dot(k, v);
            [0, 1, 2].map(|i| origin[i] + v[i] * c + kv[i] * s + k[i] * kd * (1.0 - c))
        };
        let mut faces: Vec<Face> = Vec::new();
        for ring in &rings {
            let n = ring.len();
            for s in 0..steps {
                let (a0, a1) = (
                    angle * s as f64 / steps as f64,
                    angle * (s + 1) as f64 / steps as f64,
                );
                for j in 0..n {
                    let (p, q) = (
                        [ring[j][0], ring[j][1], 0.0],
                        [ring[(j + 1) % n][0], ring[(j + 1) % n][1], 0.0],
                    );
                    // Outward for a counter-clockwise ring turned the positive way (and the
                    // other way round, with the caps, for a negative angle).
                    faces.push(vec![vec![turn(p, a0), turn(p, a1), turn(q, a1), turn(q, a0)]]);
                }
            }
        }
        if !full {
            let cap = |a: f64, rev: bool| -> Face {
                rings
                    .iter()
                    .map(|r| {
                        let mut ring: Vec<[f64; 3]> = r.iter().map(|q| turn([q[0], q[1], 0.0], a)).collect();
                        if rev {
                            ring.reverse();
                        }
                        ring
                    })
                    .collect()
            };
            // The start faces against the sweep, the end along it.
            faces.push(cap(0.0, angle < 0.0));
            faces.push(cap(angle, angle > 0.0));
        }
        let mut out = Vec::new();
        triangulate_faces(&faces, &mut out);
        // Quads on the axis fold to nothing; which way the rest face depends on the sense.
        if volume(&out) < 0.0 {
            out.iter_mut().for_each(|t| t.swap(1, 2));
        }
        Affine::from_frame(&frame).apply_tris(&mut out);
        Ok(out)
    }

    /// A CSG primitive in its position.
    fn primitive(&mut self, it: &Instance) -> Result<Vec<Tri>> {
        let f = self.f;
        let id = it.id;
        let frame = match it.params.first().and_then(Value::as_ref_id) {
            Some(a) => axis2_placement(f, a, id)?,
            None => Frame::IDENTITY,
        };
        let pos = |k: usize, what: &str| -> Result<f64> {
            it.params
                .get(k)
                .and_then(Value::as_f64)
                .filter(|v| *v > 0.0 && v.is_finite())
                .ok_or_else(|| bad(f, format!("#{id}: {what} missing or not positive")))
        };
        let tau = std::f64::consts::TAU;
        let mut out = match it.ty.as_str() {
            "IFCBLOCK" => cuboid(
                [0.0; 3],
                [pos(1, "XLength")?, pos(2, "YLength")?, pos(3, "ZLength")?],
            ),
            "IFCRECTANGULARPYRAMID" => {
                let (x, y, h) = (pos(1, "XLength")?, pos(2, "YLength")?, pos(3, "Height")?);
                let apex = [x / 2.0, y / 2.0, h];
                let base = [[0.0, 0.0, 0.0], [x, 0.0, 0.0], [x, y, 0.0], [0.0, y, 0.0]];
                let mut t = vec![[base[0], base[2], base[1]], [base[0], base[3], base[2]]];
                for k in 0..4 {
                    t.push([base[k], base[(k + 1) % 4], apex]);
                }
                t
            }
            "IFCRIGHTCIRCULARCYLINDER" | "IFCRIGHTCIRCULARCONE" => {
                let h = pos(1, "Height")?;
                let r = pos(2, "Radius")?;
                let cone = it.ty == "IFCRIGHTCIRCULARCONE";
                let n = circle_segments(r, self.tess.tol);
                let ring: Vec<[f64; 3]> = (0..n)
                    .map(|k| {
                        let a = tau * k as f64 / n as f64;
                        [r * a.cos(), r * a.sin(), 0.0]
                    })
                    .collect();
                let mut t = Vec::new();
                for k in 0..n {
                    let (p, q) = (ring[k], ring[(k + 1) % n]);
                    t.push([[0.0, 0.0, 0.0], q, p]);
                    if cone {
                        t.push([p, q, [0.0, 0.0, h]]);
                    } else {
                        let (pt, qt) = ([p[0], p[1], h], [q[0], q[1], h]);
                        t.push([p, q, qt]);
                        t.push([p, qt, pt]);
                        t.push([[0.0, 0.0, h], pt, qt]);
                    }
                }
                t
            }
            _ => {
                // Sphere: rings of latitude.
                let r = pos(1, "Radius")?;
                let n = circle_segments(r, self.tess.tol);
                let m = (n / 2).max(4);
                let at = |i: usize, j: usize| {
                    let (th, ph) = (
                        std::f64::consts::PI * i as f64 / m as f64,
                        tau * j as f64 / n as f64,
                    );
                    [r * th.sin() * ph.cos(), r * th.sin() * ph.sin(), r * th.cos()]
                };
                let mut t = Vec::new();
                for i in 0..m {
                    for j in 0..n {
                        let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1));
                        if i > 0 {
                            t.push([a, b, d]);
                        }
                        if i + 1 < m {
                            t.push([b, c, d]);
                        }
                    }
                }
                t
            }
        };
        Affine::from_frame(&frame).apply_tris(&mut out);
        Ok(out)
    }
}

/// A 2-D ring (counter-clockwise or not) extruded from `z0` to `z1`, facing out.
fn prism(ring: &[[f64; 2]], z0: f64, z1: f64) -> Vec<Tri> {
    let n = ring.len();
    let mut faces: Vec<Face> = Vec::new();
    faces.push(vec![ring.iter().rev().map(|q| [q[0], q[1], z0]).collect()]);
    faces.push(vec![ring.iter().map(|q| [q[0], q[1], z1]).collect()]);
    for k in 0..n {
        let (a, b) = (ring[k], ring[(k + 1) % n]);
        faces.push(vec![vec![
            [a[0], a[1], z0],
            [b[0], b[1], z0],
            [b[0], b[1], z1],
            [a[0], a[1], z1],
        ]]);
    }
    let mut out = Vec::new();
    triangulate_faces(&faces, &mut out);
    if volume(&out) < 0.0 {
        out.iter_mut().for_each(|t| t.swap(1, 2));
    }
    out
}
