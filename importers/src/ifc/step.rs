//! ISO 10303-21 (STEP physical file) as IFC writes it: the header (schema, name, description,
//! the program that wrote it) and an index of the data section's entity instances, built in
//! one pass over the bytes; an instance's parameters are parsed only when asked for. The file's
//! bytes and the index (24 bytes an instance, and its id again in its type's list) are all that
//! is kept, so a model takes little more memory than its file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{ImportError, Result};

/// The IFC schema a file names in `FILE_SCHEMA`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schema {
    Ifc2x3,
    Ifc4,
    /// IFC 4.1 and 4.2 (never final as such; read as IFC4 with the additions).
    Ifc4x1,
    Ifc4x2,
    /// IFC 4.3, with the pre-final name as written where it is one (`IFC4X3_RC2`, `IFC4X3_ADD2`).
    Ifc4x3(String),
}

impl Schema {
    /// The schema of a `FILE_SCHEMA` name; `None` for a name that is not IFC 2x3 to 4.3.
    pub fn from_name(name: &str) -> Option<Schema> {
        let n = name.trim().to_ascii_uppercase();
        Some(match n.as_str() {
            "IFC2X3" | "IFC2X3_TC1" | "IFC2X3_FINAL" => Schema::Ifc2x3,
            "IFC4" | "IFC4_ADD1" | "IFC4_ADD2" | "IFC4_ADD2_TC1" => Schema::Ifc4,
            "IFC4X1" => Schema::Ifc4x1,
            "IFC4X2" => Schema::Ifc4x2,
            _ if n.starts_with("IFC4X3") => Schema::Ifc4x3(n.clone()),
            _ => return None,
        })
    }

    /// Its usual name (`IFC2X3`, `IFC4`, `IFC4X3_ADD2`…).
    pub fn name(&self) -> &str {
        match self {
            Schema::Ifc2x3 => "IFC2X3",
            Schema::Ifc4 => "IFC4",
            Schema::Ifc4x1 => "IFC4X1",
            Schema::Ifc4x2 => "IFC4X2",
            Schema::Ifc4x3(n) => n,
        }
    }
}

/// What the header says.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub schema: Schema,
    /// `FILE_DESCRIPTION`'s descriptions (a view definition such as `ViewDefinition [...]`).
    pub description: Vec<String>,
    /// `FILE_NAME`'s name, time stamp, preprocessor version and originating system (exporters
    /// put their name in one or the other: Revit 2011 in the first).
    pub name: String,
    pub time_stamp: String,
    pub preprocessor_version: String,
    pub originating_system: String,
}

/// One parameter of an entity instance.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `$`: not given.
    Null,
    /// `*`: derived from other attributes.
    Derived,
    Int(i64),
    Real(f64),
    /// Decoded text (`''`, `\\`, `\X\`, `\X2\`, `\X4\`, `\S\` escapes resolved).
    Str(String),
    /// `.NAME.`: an enumeration value or a boolean (`.T.`, `.F.`, `.U.`), without the dots.
    Enum(String),
    /// `#123`: another instance.
    Ref(u64),
    List(Vec<Value>),
    /// `IFCLABEL('x')`: a value of a defined type.
    Typed(String, Box<Value>),
    /// `"…"`: binary, as its hexadecimal text.
    Binary(String),
}

impl Value {
    pub fn as_ref_id(&self) -> Option<u64> {
        match self {
            Value::Ref(r) => Some(*r),
            _ => None,
        }
    }

    /// A number (an integer read as a real too).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            Value::Typed(_, v) => v.as_f64(),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Typed(_, v) => v.as_str(),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_enum(&self) -> Option<&str> {
        match self {
            Value::Enum(e) => Some(e),
            _ => None,
        }
    }
}

/// An instance in the index: its id, type and where its parameters are.
#[derive(Clone, Copy, Debug)]
struct Entry {
    id: u64,
    /// Index into [`StepFile::types`].
    ty: u32,
    /// The parameters' bytes, without the outer parentheses.
    start: u64,
    len: u32,
}

/// An entity instance with its parameters parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub id: u64,
    /// Upper case, as written (`IFCWALLSTANDARDCASE`).
    pub ty: String,
    pub params: Vec<Value>,
}

/// A STEP file read: its header and its instances, found by id or by type.
pub struct StepFile {
    pub path: PathBuf,
    pub header: Header,
    bytes: Vec<u8>,
    types: Vec<String>,
    type_ids: HashMap<String, u32>,
    /// In id order.
    entries: Vec<Entry>,
    /// Per type (index into `types`), its instances' ids in id order.
    by_type: Vec<Vec<u64>>,
    /// Instances whose id appeared before (ignored, the first kept).
    pub duplicates: usize,
}

fn bad(path: &Path, reason: impl Into<String>) -> ImportError {
    ImportError::file(path, reason)
}

/// Skips whitespace and `/* comments */` from `k`; `None` inside an unclosed comment.
fn skip_blank(b: &[u8], mut k: usize) -> Option<usize> {
    loop {
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        if b.get(k) == Some(&b'/') && b.get(k + 1) == Some(&b'*') {
            let end = b.get(k + 2..)?.windows(2).position(|w| w == b"*/")?;
            k += 2 + end + 2;
        } else {
            return Some(k);
        }
    }
}

/// The end (one past the closing quote) of the string at `b[k]` (a `'`), `''` being a quote
/// inside it.
fn skip_string(b: &[u8], k: usize) -> Option<usize> {
    let mut i = k + 1;
    loop {
        let q = b.get(i..)?.iter().position(|&c| c == b'\'')?;
        i += q + 1;
        if b.get(i) == Some(&b'\'') {
            i += 1;
        } else {
            return Some(i);
        }
    }
}

/// The position of the `)` that closes the `(` at `b[k]`, strings and comments skipped.
fn matching_paren(b: &[u8], k: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = k;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                i = skip_string(b, i)?;
                continue;
            }
            b'"' => {
                i += 1 + b.get(i + 1..)?.iter().position(|&c| c == b'"')? + 1;
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_blank(b, i)?;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl StepFile {
    /// Reads the file at `path`.
    pub fn open(path: &Path) -> Result<StepFile> {
        let bytes = std::fs::read(path).map_err(|e| ImportError::io(path, e))?;
        StepFile::from_bytes(path, bytes)
    }

    /// Reads a file's bytes (`path` names it in messages).
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<StepFile> {
        let b = &bytes[..];
        let start = skip_blank(b, 0).ok_or_else(|| bad(path, "an unclosed comment at the start"))?;
        if !b[start..].starts_with(b"ISO-10303-21;") {
            return Err(bad(
                path,
                "not a STEP file (it does not start with ISO-10303-21;)",
            ));
        }
        let (header, data_at) = read_header(path, b, start + "ISO-10303-21;".len())?;
        let mut file = StepFile {
            path: path.to_path_buf(),
            header,
            bytes: Vec::new(),
            types: Vec::new(),
            type_ids: HashMap::new(),
            entries: Vec::new(),
            by_type: Vec::new(),
            duplicates: 0,
        };
        file.index(b, data_at)?;
        file.bytes = bytes;
        Ok(file)
    }

    /// Indexes the data section from `k` (just after `DATA;`) to its `ENDSEC;`.
    fn index(&mut self, b: &[u8], mut k: usize) -> Result<()> {
        let path = self.path.clone();
        let mut last_id: Option<u64> = None;
        loop {
            k = skip_blank(b, k)
                .ok_or_else(|| bad(&path, format!("an unclosed comment after {}", after(last_id))))?;
            if k >= b.len() {
                return Err(bad(
                    &path,
                    format!(
                        "the file ends inside its DATA section (after {}): it is cut short",
                        after(last_id)
                    ),
                ));
            }
            if b[k..].starts_with(b"ENDSEC;") {
                break;
            }
            if b[k] != b'#' {
                return Err(bad(
                    &path,
                    format!(
                        "expected an instance (#id=…) after {}, found '{}'",
                        after(last_id),
                        snippet(b, k)
                    ),
                ));
            }
            let digits = b[k + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            let id: u64 = std::str::from_utf8(&b[k + 1..k + 1 + digits])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(&path, format!("a bad instance id after {}", after(last_id))))?;
            let name = format!("#{id}");
            k = skip_blank(b, k + 1 + digits)
                .ok_or_else(|| bad(&path, format!("{name}: an unclosed comment")))?;
            if b.get(k) != Some(&b'=') {
                return Err(bad(&path, format!("{name}: expected '=' after the id")));
            }
            k = skip_blank(b, k + 1).ok_or_else(|| bad(&path, format!("{name}: an unclosed comment")))?;
            // A simple instance TYPE(…), or a complex one (…) of several types.
            let ty_len = b[k..].iter().take_while(|&&c| is_name(c)).count();
            let ty = std::str::from_utf8(&b[k..k + ty_len])
                .unwrap_or("")
                .to_ascii_uppercase();
            let open = skip_blank(b, k + ty_len)
                .ok_or_else(|| bad(&path, format!("{name}: an unclosed comment")))?;
            if b.get(open) != Some(&b'(') {
                if open >= b.len() {
                    return Err(bad(
                        &path,
                        format!("{name}: the file ends inside it: it is cut short"),
                    ));
                }
                return Err(bad(&path, format!("{name}: expected '(' after its type {ty}")));
            }
            let close = matching_paren(b, open).ok_or_else(|| {
                bad(
                    &path,
                    format!("{name}: the file ends inside it (no closing parenthesis): it is cut short"),
                )
            })?;
            let end =
                skip_blank(b, close + 1).ok_or_else(|| bad(&path, format!("{name}: an unclosed comment")))?;
            if b.get(end) != Some(&b';') {
                if end >= b.len() {
                    return Err(bad(
                        &path,
                        format!("{name}: the file ends inside it: it is cut short"),
                    ));
                }
                return Err(bad(&path, format!("{name}: expected ';' after its parameters")));
            }
            let ty = if ty_len == 0 { "(COMPLEX)".to_string() } else { ty };
            let t = match self.type_ids.get(&ty) {
                Some(&t) => t,
                None => {
                    self.types.push(ty.clone());
                    self.type_ids.insert(ty, (self.types.len() - 1) as u32);
                    (self.types.len() - 1) as u32
                }
            };
            let len = u32::try_from(close - open - 1)
                .map_err(|_| bad(&path, format!("{name}: over 4 GB of parameters")))?;
            self.entries.push(Entry {
                id,
                ty: t,
                start: (open + 1) as u64,
                len,
            });
            last_id = Some(id);
            k = end + 1;
        }
        // In id order, the first of a repeated id kept.
        self.entries.sort_by_key(|e| (e.id, e.start));
        let before = self.entries.len();
        self.entries.dedup_by_key(|e| e.id);
        self.duplicates = before - self.entries.len();
        self.entries.shrink_to_fit();
        let mut by_type: Vec<Vec<u64>> = vec![Vec::new(); self.types.len()];
        for e in &self.entries {
            by_type[e.ty as usize].push(e.id);
        }
        self.by_type = by_type;
        Ok(())
    }

    /// How many instances there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The type of instance `id` (upper case), if there is one.
    pub fn type_of(&self, id: u64) -> Option<&str> {
        self.entry(id).map(|e| self.types[e.ty as usize].as_str())
    }

    fn entry(&self, id: u64) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|k| &self.entries[k])
    }

    /// The ids of the instances of type `ty` (upper case), in id order.
    pub fn ids_of(&self, ty: &str) -> Vec<u64> {
        let Some(&t) = self.type_ids.get(ty) else {
            return Vec::new();
        };
        self.by_type.get(t as usize).cloned().unwrap_or_default()
    }

    /// How many instances of each type, by type.
    pub fn type_counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.types
            .iter()
            .cloned()
            .zip(self.by_type.iter().map(Vec::len))
            .collect()
    }

    /// Instance `id` with its parameters; an error names the file, `#id` and the reason.
    pub fn get(&self, id: u64) -> Result<Instance> {
        let e = self
            .entry(id)
            .ok_or_else(|| bad(&self.path, format!("#{id} is referred to but not in the file")))?;
        let s = e.start as usize;
        let text = &self.bytes[s..s + e.len as usize];
        let mut p = Params { b: text, k: 0 };
        let params = p.list_items(b')').map_err(|why| {
            bad(
                &self.path,
                format!("#{id} ({}): {why}", self.types[e.ty as usize]),
            )
        })?;
        Ok(Instance {
            id,
            ty: self.types[e.ty as usize].clone(),
            params,
        })
    }

    /// Instance `id`, which must be of one of the types `want` (upper case): a reference to a
    /// missing or wrongly typed instance is an error naming both.
    pub fn get_typed(&self, id: u64, want: &[&str], from: u64) -> Result<Instance> {
        match self.type_of(id) {
            None => Err(bad(
                &self.path,
                format!("#{from} refers to #{id}, which is not in the file"),
            )),
            Some(t) if !want.contains(&t) => Err(bad(
                &self.path,
                format!(
                    "#{from} refers to #{id}, a {t}, where {} is expected",
                    want.join(" or ")
                ),
            )),
            Some(_) => self.get(id),
        }
    }
}

fn after(last: Option<u64>) -> String {
    match last {
        Some(id) => format!("#{id}"),
        None => "the start of the DATA section".into(),
    }
}

fn snippet(b: &[u8], k: usize) -> String {
    String::from_utf8_lossy(&b[k..(k + 20).min(b.len())]).into_owned()
}

/// The header section from `k` (after `ISO-10303-21;`): its header and where DATA begins.
fn read_header(path: &Path, b: &[u8], mut k: usize) -> Result<(Header, usize)> {
    k = skip_blank(b, k).ok_or_else(|| bad(path, "an unclosed comment in the header"))?;
    if !b[k..].starts_with(b"HEADER;") {
        return Err(bad(path, "no HEADER section"));
    }
    k += "HEADER;".len();
    let mut header = Header {
        schema: Schema::Ifc4,
        description: Vec::new(),
        name: String::new(),
        time_stamp: String::new(),
        preprocessor_version: String::new(),
        originating_system: String::new(),
    };
    let mut schema: Option<Vec<String>> = None;
    loop {
        k = skip_blank(b, k).ok_or_else(|| bad(path, "an unclosed comment in the header"))?;
        if k >= b.len() {
            return Err(bad(path, "the file ends in its header: it is cut short"));
        }
        if b[k..].starts_with(b"ENDSEC;") {
            k += "ENDSEC;".len();
            break;
        }
        let n = b[k..].iter().take_while(|&&c| is_name(c)).count();
        let name = String::from_utf8_lossy(&b[k..k + n]).to_ascii_uppercase();
        let open = skip_blank(b, k + n).ok_or_else(|| bad(path, "an unclosed comment in the header"))?;
        if b.get(open) != Some(&b'(') {
            return Err(bad(path, format!("a bad header entry '{}'", snippet(b, k))));
        }
        let close = matching_paren(b, open).ok_or_else(|| {
            bad(
                path,
                format!("the header's {name} is not closed: the file is cut short"),
            )
        })?;
        let mut p = Params {
            b: &b[open + 1..close],
            k: 0,
        };
        let params = p
            .list_items(b')')
            .map_err(|why| bad(path, format!("the header's {name}: {why}")))?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let texts = |v: Option<&Value>| -> Vec<String> {
            v.and_then(Value::as_list)
                .map(|l| l.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        match name.as_str() {
            "FILE_DESCRIPTION" => header.description = texts(params.first()),
            "FILE_NAME" => {
                header.name = text(params.first());
                header.time_stamp = text(params.get(1));
                header.preprocessor_version = text(params.get(4));
                header.originating_system = text(params.get(5));
            }
            "FILE_SCHEMA" => schema = Some(texts(params.first())),
            _ => {}
        }
        let end = skip_blank(b, close + 1).ok_or_else(|| bad(path, "an unclosed comment in the header"))?;
        if b.get(end) != Some(&b';') {
            return Err(bad(path, format!("the header's {name} is not ended by ';'")));
        }
        k = end + 1;
    }
    let names = schema.ok_or_else(|| bad(path, "the header has no FILE_SCHEMA"))?;
    let first = names.first().cloned().unwrap_or_default();
    header.schema = Schema::from_name(&first).ok_or_else(|| {
        bad(
            path,
            format!("its schema '{first}' is not one cim reads (IFC2X3, IFC4, IFC4X1, IFC4X2, IFC4X3 and its pre-final names)"),
        )
    })?;
    k = skip_blank(b, k).ok_or_else(|| bad(path, "an unclosed comment before DATA"))?;
    if !b[k..].starts_with(b"DATA;") {
        return Err(bad(path, "no DATA section after the header"));
    }
    Ok((header, k + "DATA;".len()))
}

/// A parser over one instance's parameter text.
struct Params<'a> {
    b: &'a [u8],
    k: usize,
}

impl Params<'_> {
    fn blank(&mut self) {
        if let Some(k) = skip_blank(self.b, self.k) {
            self.k = k;
        } else {
            self.k = self.b.len();
        }
    }

    /// Values separated by commas up to `close` (or the end of the text for the outermost).
    fn list_items(&mut self, close: u8) -> std::result::Result<Vec<Value>, String> {
        let mut out = Vec::new();
        self.blank();
        if self.k >= self.b.len() || self.b[self.k] == close {
            return Ok(out);
        }
        loop {
            out.push(self.value()?);
            self.blank();
            match self.b.get(self.k) {
                Some(b',') => {
                    self.k += 1;
                }
                Some(&c) if c == close => return Ok(out),
                None if close == b')' => return Ok(out),
                Some(&c) => return Err(format!("unexpected '{}' in its parameters", c as char)),
                None => return Err("a list is not closed".into()),
            }
        }
    }

    fn value(&mut self) -> std::result::Result<Value, String> {
        self.blank();
        let Some(&c) = self.b.get(self.k) else {
            return Err("a parameter is missing".into());
        };
        match c {
            b'$' => {
                self.k += 1;
                Ok(Value::Null)
            }
            b'*' => {
                self.k += 1;
                Ok(Value::Derived)
            }
            b'#' => {
                let n = self.b[self.k + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                let id = std::str::from_utf8(&self.b[self.k + 1..self.k + 1 + n])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or("a bad reference")?;
                self.k += 1 + n;
                Ok(Value::Ref(id))
            }
            b'\'' => {
                let end = skip_string(self.b, self.k).ok_or("a string is not closed")?;
                let raw = &self.b[self.k + 1..end - 1];
                self.k = end;
                Ok(Value::Str(decode_string(raw)))
            }
            b'"' => {
                let n = self.b[self.k + 1..]
                    .iter()
                    .position(|&c| c == b'"')
                    .ok_or("a binary value is not closed")?;
                let v = String::from_utf8_lossy(&self.b[self.k + 1..self.k + 1 + n]).into_owned();
                self.k += n + 2;
                Ok(Value::Binary(v))
            }
            b'.' => {
                let n = self.b[self.k + 1..]
                    .iter()
                    .position(|&c| c == b'.')
                    .ok_or("an enumeration is not closed")?;
                let v = String::from_utf8_lossy(&self.b[self.k + 1..self.k + 1 + n]).to_ascii_uppercase();
                self.k += n + 2;
                Ok(Value::Enum(v))
            }
            b'(' => {
                self.k += 1;
                let items = self.list_items(b')')?;
                if self.b.get(self.k) != Some(&b')') {
                    return Err("a list is not closed".into());
                }
                self.k += 1;
                Ok(Value::List(items))
            }
            b'-' | b'+' | b'0'..=b'9' => {
                let n = self.b[self.k..]
                    .iter()
                    .take_while(|&&c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'E' | b'e'))
                    .count();
                let t = std::str::from_utf8(&self.b[self.k..self.k + n]).map_err(|_| "a bad number")?;
                self.k += n;
                if t.contains(['.', 'E', 'e']) {
                    // STEP writes `1.` and `1.E-5`; Rust reads both.
                    t.parse::<f64>()
                        .map(Value::Real)
                        .map_err(|_| format!("'{t}' is not a number"))
                } else {
                    t.parse::<i64>()
                        .map(Value::Int)
                        .map_err(|_| format!("'{t}' is not a number"))
                }
            }
            c if is_name(c) => {
                let n = self.b[self.k..].iter().take_while(|&&c| is_name(c)).count();
                let ty = String::from_utf8_lossy(&self.b[self.k..self.k + n]).to_ascii_uppercase();
                self.k += n;
                self.blank();
                if self.b.get(self.k) != Some(&b'(') {
                    return Err(format!("a typed value {ty} without '('"));
                }
                self.k += 1;
                let mut items = self.list_items(b')')?;
                if self.b.get(self.k) != Some(&b')') {
                    return Err(format!("the typed value {ty} is not closed"));
                }
                self.k += 1;
                let v = if items.len() == 1 {
                    items.pop().unwrap_or(Value::Null)
                } else {
                    Value::List(items)
                };
                Ok(Value::Typed(ty, Box::new(v)))
            }
            c => Err(format!("unexpected '{}' in its parameters", c as char)),
        }
    }
}

/// A STEP string's text: `''` a quote, `\\` a backslash, `\X\hh` an ISO 8859-1 character,
/// `\X2\hhhh…\X0\` UTF-16, `\X4\hhhhhhhh…\X0\` UTF-32, `\S\c` the character 128 above `c`;
/// `\Px\` code page switches are dropped. Bytes outside ASCII (not allowed, but written) are
/// read as UTF-8 where they are, else as ISO 8859-1.
pub fn decode_string(raw: &[u8]) -> String {
    let hex = |s: &[u8]| -> Option<u32> { u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok() };
    let mut out = String::with_capacity(raw.len());
    let mut k = 0;
    while k < raw.len() {
        let c = raw[k];
        if c == b'\'' && raw.get(k + 1) == Some(&b'\'') {
            out.push('\'');
            k += 2;
        } else if c == b'\\' {
            let rest = &raw[k..];
            if rest.starts_with(b"\\\\") {
                out.push('\\');
                k += 2;
            } else if rest.starts_with(b"\\X\\") && rest.len() >= 5 {
                if let Some(ch) = hex(&rest[3..5]).and_then(char::from_u32) {
                    out.push(ch);
                }
                k += 5;
            } else if rest.starts_with(b"\\X2\\") || rest.starts_with(b"\\X4\\") {
                let width = if rest[2] == b'2' { 4 } else { 8 };
                let body_end = rest[4..]
                    .windows(4)
                    .position(|w| w == b"\\X0\\")
                    .map_or(rest.len(), |p| p + 4);
                let body = &rest[4..body_end];
                let units: Vec<u32> = body.chunks(width).filter_map(hex).collect();
                if width == 4 {
                    let u16s: Vec<u16> = units.iter().map(|&u| u as u16).collect();
                    out.extend(char::decode_utf16(u16s).map(|r| r.unwrap_or('\u{FFFD}')));
                } else {
                    out.extend(units.iter().map(|&u| char::from_u32(u).unwrap_or('\u{FFFD}')));
                }
                k += (body_end + 4).min(rest.len());
            } else if rest.starts_with(b"\\S\\") && rest.len() >= 4 {
                if let Some(ch) = char::from_u32(u32::from(rest[3]) + 128) {
                    out.push(ch);
                }
                k += 4;
            } else if rest.len() >= 4 && rest[1] == b'P' && rest[3] == b'\\' {
                k += 4;
            } else {
                out.push('\\');
                k += 1;
            }
        } else if c < 0x80 {
            out.push(c as char);
            k += 1;
        } else {
            // Raw 8-bit text: UTF-8 where it is, else Latin-1.
            let n = raw[k..].iter().take_while(|&&c| c >= 0x80).count();
            match std::str::from_utf8(&raw[k..k + n]) {
                Ok(s) => out.push_str(s),
                Err(_) => out.extend(raw[k..k + n].iter().map(|&c| c as char)),
            }
            k += n;
        }
    }
    out
}
