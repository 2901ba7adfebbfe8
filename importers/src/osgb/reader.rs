//! Our reader of OpenSceneGraph binary files (`.osgb`, no crate exists), for oblique
//! photography as ContextCapture/Smart3D writes it: the header (magic `a10e916c 4545fb1a`,
//! type, version, attributes, compressor), then one object tree — PagedLOD, LOD, Group,
//! Geode, MatrixTransform, Geometry with its StateSet, Material, Texture2D and the image
//! embedded as a JPEG/PNG file. Each class reads its base classes' fields first, as OSG's
//! serializers wrote them at versions up to 94 (OSG 3.0–3.2; ContextCapture writes 80 and 91).
//! Every count is checked against the bytes left, so a damaged file is an error saying where.

use std::collections::HashMap;
use std::rc::Rc;

use crate::tiles3d::gltf::{apply, mul, Mat4, IDENTITY};

/// The newest file version whose layout this reader knows.
pub const MAX_VERSION: u32 = 94;

/// A geometry of the file: triangles in the file's coordinates (its transforms applied).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Geometry {
    pub positions: Vec<[f64; 3]>,
    pub triangles: Vec<[u32; 3]>,
    /// OpenGL texture coordinates (v up), unit 0.
    pub uvs: Option<Vec<[f32; 2]>>,
    /// The image of its texture.
    pub image: Option<usize>,
    /// Its material's diffuse colour.
    pub color: Option<[f32; 4]>,
}

/// A PagedLOD: its children's files and when each is shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Paged {
    pub center: [f64; 3],
    pub radius: f64,
    /// 0 distance from the eye, 1 pixel size on screen.
    pub range_mode: i32,
    /// (file, min, max) of each child stored in another file.
    pub files: Vec<(String, f32, f32)>,
}

/// An image as embedded.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub name: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// What an `.osgb` file holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    pub version: u32,
    pub geometries: Vec<Geometry>,
    pub images: Vec<Image>,
    pub paged: Vec<Paged>,
}

impl Scene {
    pub fn triangles(&self) -> u64 {
        self.geometries.iter().map(|g| g.triangles.len() as u64).sum()
    }
}

/// A parsed object.
#[derive(Debug)]
enum Obj {
    Node(Box<Node>),
    Geometry(Box<RawGeometry>),
    StateSet(Look),
    Material([f32; 4]),
    Texture(Option<usize>),
    Other,
}

#[derive(Debug, Default)]
struct Node {
    look: Option<Look>,
    children: Vec<Rc<Obj>>,
    matrix: Option<Mat4>,
    paged: Option<Paged>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Look {
    image: Option<usize>,
    color: Option<[f32; 4]>,
}

#[derive(Debug, Default)]
struct RawGeometry {
    look: Option<Look>,
    positions: Vec<[f64; 3]>,
    uvs: Option<Vec<[f32; 2]>>,
    /// (mode, indices) of each primitive set.
    primitives: Vec<(i32, Vec<u32>)>,
}

/// An array as read: flat components and their count an element.
struct Array {
    values: Vec<f64>,
    width: usize,
}

struct Reader<'a> {
    d: &'a [u8],
    p: usize,
    version: u32,
    brackets: bool,
    ids: HashMap<u32, Rc<Obj>>,
    arrays: HashMap<u32, Rc<Array>>,
    images: Vec<Image>,
    image_ids: HashMap<u32, usize>,
    depth: u32,
}

type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    fn need(&self, n: usize) -> R<()> {
        if self.d.len().saturating_sub(self.p) < n {
            return Err(format!(
                "truncated: {n} bytes needed at byte {}, the file has {}",
                self.p,
                self.d.len()
            ));
        }
        Ok(())
    }
    fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        self.need(n)?;
        let b = &self.d[self.p..self.p + n];
        self.p += n;
        Ok(b)
    }
    fn u8(&mut self) -> R<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn bool(&mut self) -> R<bool> {
        Ok(self.u8()? != 0)
    }
    fn u32(&mut self) -> R<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> R<i32> {
        Ok(self.u32()? as i32)
    }
    fn f32(&mut self) -> R<f32> {
        Ok(f32::from_bits(self.u32()?))
    }
    fn f64(&mut self) -> R<f64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }
    fn vec3d(&mut self) -> R<[f64; 3]> {
        Ok([self.f64()?, self.f64()?, self.f64()?])
    }
    fn vec4f(&mut self) -> R<[f32; 4]> {
        Ok([self.f32()?, self.f32()?, self.f32()?, self.f32()?])
    }
    fn string(&mut self) -> R<String> {
        let n = self.i32()?;
        if n < 0 {
            return Err(format!("a string of length {n} at byte {}", self.p - 4));
        }
        Ok(String::from_utf8_lossy(self.bytes(n as usize)?).into_owned())
    }
    /// A count of elements of `size` bytes each, no more than the bytes left can hold.
    fn count(&mut self, size: usize) -> R<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(size.max(1)) > self.d.len() - self.p {
            return Err(format!(
                "truncated: a count of {n} at byte {} runs past the end of the file",
                self.p - 4
            ));
        }
        Ok(n)
    }
    /// `{`: nothing in plain binary, a block size when the file has brackets.
    fn begin(&mut self) -> R<Option<(usize, usize)>> {
        if !self.brackets {
            return Ok(None);
        }
        let start = self.p;
        let size = if self.version > 148 {
            let v = self.f64().map(f64::to_bits)? as i64;
            v.max(0) as usize
        } else {
            self.i32()?.max(0) as usize
        };
        Ok(Some((start, size)))
    }
    fn skip_to(&mut self, block: Option<(usize, usize)>) -> R<()> {
        if let Some((start, size)) = block {
            let end = start
                .checked_add(size)
                .filter(|e| *e <= self.d.len())
                .ok_or("a block runs past the end of the file")?;
            self.p = end;
        }
        Ok(())
    }

    fn header(&mut self) -> R<()> {
        if self.d.len() < 8 || self.d[..8] != [0xA1, 0x0E, 0x91, 0x6C, 0x45, 0x45, 0xFB, 0x1A] {
            return Err("not an OpenSceneGraph binary file (no osgb magic)".into());
        }
        self.p = 8;
        let kind = self.u32()?;
        if kind != 1 {
            return Err(format!("it holds no scene (type {kind})"));
        }
        self.version = self.u32()?;
        if self.version > MAX_VERSION {
            return Err(format!(
                "OSGB version {}: cim reads versions up to {MAX_VERSION} (ContextCapture writes 80 and 91)",
                self.version
            ));
        }
        let attributes = self.u32()?;
        self.brackets = attributes & 0x4 != 0;
        if attributes & 0x2 != 0 {
            return Err(
                "it carries schema data (written with a schema option), which cim does not read".into(),
            );
        }
        if attributes & 0x1 != 0 {
            let n = self.count(8)?;
            for _ in 0..n {
                self.string()?;
                self.i32()?;
            }
        }
        let compressor = self.string()?;
        if compressor != "0" {
            return Err(format!(
                "it is compressed ('{compressor}'), which cim does not read"
            ));
        }
        Ok(())
    }

    /// A field holding an object: a flag, then the object.
    fn object_field(&mut self) -> R<Option<Rc<Obj>>> {
        if self.bool()? {
            self.object()
        } else {
            Ok(None)
        }
    }

    fn object(&mut self) -> R<Option<Rc<Obj>>> {
        let class = self.string()?;
        if class == "NULL" {
            return Ok(None);
        }
        let block = self.begin()?;
        let id = self.u32()?;
        if let Some(o) = self.ids.get(&id) {
            let o = o.clone();
            self.skip_to(block)?;
            return Ok(Some(o));
        }
        self.depth += 1;
        if self.depth > 64 {
            return Err("its objects nest more than 64 deep".into());
        }
        let at = self.p;
        let obj = self.fields(&class).map_err(|e| {
            if e.contains(" (in ") {
                e
            } else {
                format!("{e} (in {class} at byte {at})")
            }
        })?;
        self.depth -= 1;
        let obj = match obj {
            Some(o) => o,
            None if block.is_some() => Obj::Other,
            None => return Err(format!("class {class} at byte {at} is not one cim reads")),
        };
        self.skip_to(block)?;
        let o = Rc::new(obj);
        self.ids.insert(id, o.clone());
        Ok(Some(o))
    }

    /// The fields of `class` and its bases; `None` for a class this reader does not know.
    fn fields(&mut self, class: &str) -> R<Option<Obj>> {
        Ok(Some(match class {
            "osg::Node"
            | "osg::Group"
            | "osg::Geode"
            | "osg::LOD"
            | "osg::PagedLOD"
            | "osg::MatrixTransform"
            | "osg::Transform"
            | "osg::PositionAttitudeTransform" => {
                self.object_fields()?;
                let mut node = Node {
                    look: self.node_fields()?,
                    ..Node::default()
                };
                match class {
                    "osg::Group" => node.children = self.group_fields()?,
                    "osg::Geode" => node.children = self.list_of_objects()?,
                    "osg::LOD" => {
                        node.children = self.group_fields()?;
                        self.lod_fields()?;
                    }
                    "osg::PagedLOD" => {
                        let (center, radius, range_mode, ranges) = self.lod_fields()?;
                        let (files, children) = self.paged_fields()?;
                        node.children = children;
                        let mut p = Paged {
                            center,
                            radius,
                            range_mode,
                            files: Vec::new(),
                        };
                        for (k, f) in files.into_iter().enumerate() {
                            if !f.is_empty() {
                                let (lo, hi) = ranges.get(k).copied().unwrap_or((0.0, f32::MAX));
                                p.files.push((f, lo, hi));
                            }
                        }
                        node.paged = Some(p);
                    }
                    "osg::MatrixTransform" => {
                        node.children = self.group_fields()?;
                        self.i32()?; // reference frame
                        let block = self.begin()?;
                        let _ = block;
                        let mut m = [0.0; 16];
                        for v in &mut m {
                            *v = self.f64()?;
                        }
                        node.matrix = Some(m);
                    }
                    "osg::Transform" => {
                        node.children = self.group_fields()?;
                        self.i32()?;
                    }
                    "osg::PositionAttitudeTransform" => {
                        node.children = self.group_fields()?;
                        self.i32()?;
                        let pos = self.vec3d()?;
                        let q = [self.f64()?, self.f64()?, self.f64()?, self.f64()?];
                        let s = self.vec3d()?;
                        let pivot = self.vec3d()?;
                        let m = crate::tiles3d::gltf::trs(pos, q, s);
                        node.matrix = Some(mul(
                            &m,
                            &crate::tiles3d::gltf::translation([-pivot[0], -pivot[1], -pivot[2]]),
                        ));
                    }
                    _ => {}
                }
                Obj::Node(Box::new(node))
            }
            "osg::Geometry" => {
                self.object_fields()?;
                let look = self.drawable_fields()?;
                let mut g = self.geometry_fields()?;
                g.look = look;
                Obj::Geometry(Box::new(g))
            }
            "osg::StateSet" => {
                self.object_fields()?;
                Obj::StateSet(self.stateset_fields()?)
            }
            "osg::Material" => {
                self.object_fields()?;
                self.object_field()?;
                self.object_field()?;
                Obj::Material(self.material_fields()?)
            }
            "osg::Texture2D" => {
                self.object_fields()?;
                self.object_field()?;
                self.object_field()?;
                self.texture_fields()?;
                let image = if self.bool()? { self.image()? } else { None };
                self.i32()?;
                self.i32()?;
                Obj::Texture(image)
            }
            "osg::DefaultUserDataContainer" => {
                self.object_fields()?;
                if self.bool()? {
                    self.object()?;
                }
                if self.bool()? {
                    let n = self.count(4)?;
                    for _ in 0..n {
                        self.string()?;
                    }
                }
                if self.bool()? {
                    let n = self.count(4)?;
                    for _ in 0..n {
                        self.object()?;
                    }
                }
                Obj::Other
            }
            _ => return Ok(None),
        }))
    }

    fn object_fields(&mut self) -> R<()> {
        self.string()?; // name
        self.i32()?; // data variance
        if self.version < 77 {
            if self.bool()? {
                self.object()?;
            }
        } else {
            self.object_field()?;
        }
        Ok(())
    }

    fn look_of(o: Option<Rc<Obj>>) -> Option<Look> {
        match o.as_deref() {
            Some(Obj::StateSet(l)) => Some(*l),
            _ => None,
        }
    }

    fn node_fields(&mut self) -> R<Option<Look>> {
        if self.bool()? {
            self.vec3d()?;
            self.f64()?;
        }
        for _ in 0..4 {
            self.object_field()?;
        }
        self.bool()?; // culling active
        self.u32()?; // node mask
        if self.version < 77 && self.bool()? {
            let n = self.count(4)?;
            for _ in 0..n {
                self.string()?;
            }
        }
        let ss = self.object_field()?;
        Ok(Self::look_of(ss))
    }

    fn list_of_objects(&mut self) -> R<Vec<Rc<Obj>>> {
        let mut out = Vec::new();
        if self.bool()? {
            let n = self.count(8)?;
            for _ in 0..n {
                if let Some(o) = self.object()? {
                    out.push(o);
                }
            }
        }
        Ok(out)
    }

    fn group_fields(&mut self) -> R<Vec<Rc<Obj>>> {
        self.list_of_objects()
    }

    #[allow(clippy::type_complexity)]
    fn lod_fields(&mut self) -> R<([f64; 3], f64, i32, Vec<(f32, f32)>)> {
        self.i32()?; // centre mode
        let (mut center, mut radius) = ([0.0; 3], 0.0);
        if self.bool()? {
            center = self.vec3d()?;
            radius = self.f64()?;
        }
        let mode = self.i32()?;
        let mut ranges = Vec::new();
        if self.bool()? {
            let n = self.count(8)?;
            for _ in 0..n {
                ranges.push((self.f32()?, self.f32()?));
            }
        }
        Ok((center, radius, mode, ranges))
    }

    fn paged_fields(&mut self) -> R<(Vec<String>, Vec<Rc<Obj>>)> {
        if self.bool()? && self.bool()? {
            self.string()?; // database path
        }
        if self.version < 70 {
            self.u32()?;
        }
        self.u32()?; // children that cannot expire
        self.bool()?; // external paging disabled
        let mut files = Vec::new();
        if self.bool()? {
            let n = self.count(4)?;
            for _ in 0..n {
                files.push(self.string()?);
            }
            let n = self.count(8)?;
            for _ in 0..n {
                self.f32()?;
                self.f32()?;
            }
        }
        let children = self.list_of_objects()?;
        Ok((files, children))
    }

    fn drawable_fields(&mut self) -> R<Option<Look>> {
        let ss = self.object_field()?;
        if self.bool()? {
            self.vec3d()?;
            self.vec3d()?;
        }
        self.object_field()?;
        self.object_field()?;
        self.bool()?;
        self.bool()?;
        self.bool()?;
        for _ in 0..4 {
            self.object_field()?;
        }
        Ok(Self::look_of(ss))
    }

    fn array(&mut self) -> R<Rc<Array>> {
        let id = self.u32()?;
        if let Some(a) = self.arrays.get(&id) {
            return Ok(a.clone());
        }
        let ty = self.i32()?;
        let (width, size) = match ty {
            0 | 1 => (1, 1),
            2 | 3 => (1, 2),
            4..=6 => (1, 4),
            7 => (1, 8),
            8 => (2, 1),
            9 => (3, 1),
            10 | 11 => (4, 1),
            12 => (2, 2),
            13 => (3, 2),
            14 => (4, 2),
            15 => (2, 4),
            16 => (3, 4),
            17 => (4, 4),
            18 => (2, 8),
            19 => (3, 8),
            20 => (4, 8),
            t => return Err(format!("an array of type {t} at byte {}", self.p - 4)),
        };
        let n = self.i32()?.max(0) as usize;
        let block = self.begin()?;
        let bytes = self.bytes(n.checked_mul(width * size).ok_or("an array too large")?)?;
        let values: Vec<f64> = match (ty, size) {
            (0 | 8 | 9 | 10, _) => bytes.iter().map(|b| f64::from(*b as i8)).collect(),
            (_, 1) => bytes.iter().map(|b| f64::from(*b)).collect(),
            (2 | 12 | 13 | 14, _) => bytes
                .chunks_exact(2)
                .map(|c| f64::from(i16::from_le_bytes([c[0], c[1]])))
                .collect(),
            (_, 2) => bytes
                .chunks_exact(2)
                .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            (4, _) => bytes
                .chunks_exact(4)
                .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            (5, _) => bytes
                .chunks_exact(4)
                .map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            (_, 4) => bytes
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect(),
            _ => bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        };
        let _ = block;
        let a = Rc::new(Array { values, width });
        self.arrays.insert(id, a.clone());
        Ok(a)
    }

    /// Geometry's old "ArrayData": the array, its index array, binding and normalisation.
    fn array_data(&mut self) -> R<Option<Rc<Array>>> {
        let array = if self.bool()? { Some(self.array()?) } else { None };
        let indices = if self.bool()? { Some(self.array()?) } else { None };
        self.i32()?;
        self.i32()?;
        Ok(match (array, indices) {
            (Some(a), Some(ix)) => {
                let mut values = Vec::with_capacity(ix.values.len() * a.width);
                for i in &ix.values {
                    let i = *i as usize;
                    let v = a
                        .values
                        .get(i * a.width..(i + 1) * a.width)
                        .ok_or("an index past its array")?;
                    values.extend_from_slice(v);
                }
                Some(Rc::new(Array {
                    values,
                    width: a.width,
                }))
            }
            (a, _) => a,
        })
    }

    fn primitive_set(&mut self) -> R<(i32, Vec<u32>)> {
        let ty = self.i32()?;
        let mode = self.i32()?;
        if self.version > 96 {
            self.u32()?;
        }
        let indices = match ty {
            50 => {
                let first = self.i32()?.max(0) as u32;
                let n = self.i32()?.max(0) as u32;
                if n > 1 << 28 {
                    return Err(format!("DrawArrays of {n} vertices"));
                }
                (first..first.saturating_add(n)).collect()
            }
            51 => {
                let first = self.i32()?.max(0) as u32;
                let n = self.count(4)?;
                let mut total = 0u32;
                for _ in 0..n {
                    total = total.saturating_add(self.i32()?.max(0) as u32);
                }
                if total > 1 << 28 {
                    return Err(format!("DrawArrayLengths of {total} vertices"));
                }
                (first..first.saturating_add(total)).collect()
            }
            52 => {
                let n = self.count(1)?;
                self.bytes(n)?.iter().map(|b| u32::from(*b)).collect()
            }
            53 => {
                let n = self.count(2)?;
                self.bytes(n * 2)?
                    .chunks_exact(2)
                    .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
                    .collect()
            }
            54 => {
                let n = self.count(4)?;
                self.bytes(n * 4)?
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            }
            t => return Err(format!("a primitive set of type {t} at byte {}", self.p - 8)),
        };
        Ok((mode, indices))
    }

    fn geometry_fields(&mut self) -> R<RawGeometry> {
        let mut g = RawGeometry::default();
        let n = self.count(8)?;
        for _ in 0..n {
            g.primitives.push(self.primitive_set()?);
        }
        let mut arrays = Vec::new();
        for _ in 0..5 {
            arrays.push(if self.bool()? { self.array_data()? } else { None });
        }
        if let Some(v) = &arrays[0] {
            if v.width < 3 {
                return Err("its vertices are not 3-D".into());
            }
            g.positions = v
                .values
                .chunks_exact(v.width)
                .map(|c| [c[0], c[1], c[2]])
                .collect();
        }
        for unit in 0..2 {
            if self.bool()? {
                let n = self.count(1)?;
                for k in 0..n {
                    let a = self.array_data()?;
                    if unit == 0 && k == 0 {
                        if let Some(a) = a.filter(|a| a.width >= 2) {
                            g.uvs = Some(
                                a.values
                                    .chunks_exact(a.width)
                                    .map(|c| [c[0] as f32, c[1] as f32])
                                    .collect(),
                            );
                        }
                    }
                }
            }
        }
        self.bool()?; // fast path hint
        Ok(g)
    }

    fn stateset_fields(&mut self) -> R<Look> {
        let mut look = Look::default();
        let modes = |r: &mut Self| -> R<()> {
            let n = r.count(8)?;
            for _ in 0..n {
                r.u32()?;
                r.i32()?;
            }
            Ok(())
        };
        let attributes = |r: &mut Self, look: &mut Look| -> R<()> {
            let n = r.count(8)?;
            for _ in 0..n {
                let o = r.object()?;
                r.i32()?;
                match o.as_deref() {
                    Some(Obj::Material(c)) => look.color = Some(*c),
                    Some(Obj::Texture(Some(i))) if look.image.is_none() => look.image = Some(*i),
                    _ => {}
                }
            }
            Ok(())
        };
        if self.bool()? {
            modes(self)?;
        }
        if self.bool()? {
            attributes(self, &mut look)?;
        }
        if self.bool()? {
            let n = self.count(4)?;
            for _ in 0..n {
                modes(self)?;
            }
        }
        if self.bool()? {
            let n = self.count(4)?;
            for _ in 0..n {
                attributes(self, &mut look)?;
            }
        }
        if self.bool()? {
            let n = self.count(8)?;
            for _ in 0..n {
                self.object()?;
                self.i32()?;
            }
        }
        self.i32()?;
        self.i32()?;
        self.i32()?;
        self.string()?;
        self.bool()?;
        self.object_field()?;
        self.object_field()?;
        Ok(look)
    }

    fn material_fields(&mut self) -> R<[f32; 4]> {
        self.i32()?;
        let mut diffuse = [1.0; 4];
        for k in 0..4 {
            if self.bool()? {
                self.bool()?;
                let front = self.vec4f()?;
                self.vec4f()?;
                if k == 1 {
                    diffuse = front;
                }
            }
        }
        if self.bool()? {
            self.bool()?;
            self.f32()?;
            self.f32()?;
        }
        Ok(diffuse)
    }

    fn texture_fields(&mut self) -> R<()> {
        for _ in 0..5 {
            if self.bool()? {
                self.u32()?;
            }
        }
        self.f32()?;
        for _ in 0..4 {
            self.bool()?;
        }
        for _ in 0..4 {
            self.f64()?;
        }
        self.i32()?;
        self.i32()?;
        for _ in 0..3 {
            if self.bool()? {
                self.u32()?;
            }
        }
        self.bool()?;
        self.i32()?;
        self.i32()?;
        self.f32()?;
        Ok(())
    }

    fn image(&mut self) -> R<Option<usize>> {
        if self.version > 94 {
            self.string()?;
        }
        let id = self.u32()?;
        if let Some(i) = self.image_ids.get(&id) {
            return Ok(Some(*i));
        }
        let name = self.string()?;
        self.i32()?; // write hint
        let decision = self.i32()?;
        let bytes = match decision {
            0 => {
                // Raw pixels: kept out (photo meshes embed their files).
                for _ in 0..9 {
                    self.i32()?;
                }
                let n = self.count(1)?;
                self.bytes(n)?;
                let m = self.count(4)?;
                self.bytes(m * 4)?;
                None
            }
            1 => {
                let n = self.count(1)?;
                Some(self.bytes(n)?.to_vec())
            }
            _ => None,
        };
        self.object_fields()?;
        Ok(bytes.map(|b| {
            let i = self.images.len();
            self.images.push(Image {
                name,
                mime: crate::tiles3d::gltf::sniff_image(&b).to_string(),
                bytes: b,
            });
            self.image_ids.insert(id, i);
            i
        }))
    }
}

/// Reads an `.osgb` file's bytes.
pub fn read_osgb(bytes: &[u8]) -> Result<Scene, String> {
    let mut r = Reader {
        d: bytes,
        p: 0,
        version: 0,
        brackets: false,
        ids: HashMap::new(),
        arrays: HashMap::new(),
        images: Vec::new(),
        image_ids: HashMap::new(),
        depth: 0,
    };
    r.header()?;
    let root = r.object()?.ok_or("its root object is NULL")?;
    let mut scene = Scene {
        version: r.version,
        ..Scene::default()
    };
    let mut visits = 0usize;
    flatten(&root, &IDENTITY, None, &mut scene, &mut visits)?;
    scene.images = std::mem::take(&mut r.images);
    Ok(scene)
}

fn flatten(
    o: &Obj,
    m: &Mat4,
    look: Option<Look>,
    scene: &mut Scene,
    visits: &mut usize,
) -> Result<(), String> {
    *visits += 1;
    if *visits > 1_000_000 {
        return Err("its scene graph is too large or shares itself in a loop".into());
    }
    match o {
        Obj::Node(n) => {
            let m = match &n.matrix {
                Some(local) => mul(m, local),
                None => *m,
            };
            let look = n.look.or(look);
            if let Some(p) = &n.paged {
                let mut p = p.clone();
                p.center = apply(&m, p.center);
                scene.paged.push(p);
            }
            for c in &n.children {
                flatten(c, &m, look, scene, visits)?;
            }
        }
        Obj::Geometry(g) => {
            let look = g.look.or(look).unwrap_or_default();
            let n = g.positions.len();
            let mut triangles = Vec::new();
            for (mode, ix) in &g.primitives {
                if let Some(bad) = ix.iter().find(|i| **i as usize >= n) {
                    return Err(format!("a primitive names vertex {bad} of {n}"));
                }
                match mode {
                    4 => triangles.extend(ix.chunks_exact(3).map(|c| [c[0], c[1], c[2]])),
                    5 => triangles.extend((2..ix.len()).map(|k| {
                        if k % 2 == 0 {
                            [ix[k - 2], ix[k - 1], ix[k]]
                        } else {
                            [ix[k - 1], ix[k - 2], ix[k]]
                        }
                    })),
                    6 | 9 => triangles.extend((2..ix.len()).map(|k| [ix[0], ix[k - 1], ix[k]])),
                    7 => triangles.extend(
                        ix.chunks_exact(4)
                            .flat_map(|q| [[q[0], q[1], q[2]], [q[0], q[2], q[3]]]),
                    ),
                    _ => {}
                }
            }
            scene.geometries.push(Geometry {
                positions: g.positions.iter().map(|p| apply(m, *p)).collect(),
                triangles,
                uvs: g.uvs.clone().filter(|u| u.len() == n),
                image: look.image,
                color: look.color,
            });
        }
        _ => {}
    }
    Ok(())
}
