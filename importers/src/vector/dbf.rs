//! The `.dbf` attribute table of a shapefile (dBASE III/IV, as ESRI writes it), read record by
//! record, with the text encoding taken from the `.cpg` file or the header's language driver id.
//!
//! ## Glossary
//! - **LDID** (language driver id, header byte 29): the code page a dBASE file was written in;
//!   0x4D / 0x7A mean GBK (code page 936), 0x57 "the writer's ANSI code page", 0 unstated.
//! - **.cpg**: a sidecar text file naming the code page (`UTF-8`, `GBK`, `936`, `1252` …).

use super::warning;
use crate::error::{ImportError, Result, Warning};
use cim_engine::{AttrValue, Attributes, Date, FieldDef, FieldType};
use encoding_rs::{Encoding, GB18030, UTF_8, WINDOWS_1252};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// How many leading records are looked at to guess an unstated encoding.
const SNIFF_RECORDS: u64 = 1000;
const SNIFF_MAX_BYTES: u64 = 4 << 20;

/// How text bytes become strings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum TextDecoder {
    /// The encoding is known (from the .cpg or the LDID).
    Fixed(&'static Encoding),
    /// Unstated: UTF-8 where the bytes are valid UTF-8, else GBK (GB18030), else Windows-1252.
    Guess,
}

impl TextDecoder {
    /// The text, and whether some bytes were not valid in the encoding (and were replaced by
    /// U+FFFD).
    pub(super) fn decode_checked(self, bytes: &[u8]) -> (String, bool) {
        match self {
            TextDecoder::Fixed(enc) => {
                let (s, had_errors) = enc.decode_without_bom_handling(bytes);
                (s.into_owned(), had_errors)
            }
            TextDecoder::Guess => match std::str::from_utf8(bytes) {
                Ok(s) => (s.to_string(), false),
                Err(_) => {
                    let (s, had_errors) = GB18030.decode_without_bom_handling(bytes);
                    if had_errors {
                        let (s, had_errors) = WINDOWS_1252.decode_without_bom_handling(bytes);
                        (s.into_owned(), had_errors)
                    } else {
                        (s.into_owned(), false)
                    }
                }
            },
        }
    }

    fn name(self) -> &'static str {
        match self {
            TextDecoder::Fixed(enc) => enc.name(),
            TextDecoder::Guess => "UTF-8, GBK or Windows-1252",
        }
    }
}

/// The encoding a `.cpg` value names, if known.
pub(super) fn encoding_for_cpg(value: &str) -> Option<&'static Encoding> {
    let v: String = value
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .collect::<String>()
        .to_ascii_uppercase();
    let by_name = match v.as_str() {
        "UTF8" | "65001" | "CP65001" => Some(UTF_8),
        "GBK" | "GB2312" | "GB18030" | "936" | "CP936" | "MS936" | "WINDOWS936" | "54936" | "EUCCN"
        | "CP54936" => Some(GB18030),
        "BIG5" | "950" | "CP950" => Some(encoding_rs::BIG5),
        "1252" | "CP1252" | "WINDOWS1252" | "ANSI1252" | "ISO88591" | "88591" | "LATIN1" => {
            Some(WINDOWS_1252)
        }
        "932" | "CP932" | "SJIS" | "SHIFTJIS" => Some(encoding_rs::SHIFT_JIS),
        "949" | "CP949" | "EUCKR" => Some(encoding_rs::EUC_KR),
        "874" | "CP874" => Some(encoding_rs::WINDOWS_874),
        "866" | "CP866" => Some(encoding_rs::IBM866),
        _ => None,
    };
    if by_name.is_some() {
        return by_name;
    }
    // Windows code pages 1250–1258 as bare numbers, then any WHATWG label (`iso-8859-2` …).
    if let Ok(n) = v.strip_prefix("CP").unwrap_or(&v).parse::<u32>() {
        if (1250..=1258).contains(&n) {
            return Encoding::for_label(format!("windows-{n}").as_bytes());
        }
        return None;
    }
    Encoding::for_label(value.trim().as_bytes())
}

/// The encoding a dBASE language driver id names; `None` for 0 (unstated), 0x57 (the writer's
/// ANSI code page, unknown to us) and ids not in the table.
pub(super) fn encoding_for_ldid(ldid: u8) -> Option<&'static Encoding> {
    match ldid {
        0x4D | 0x7A => Some(GB18030),
        0x4F | 0x78 => Some(encoding_rs::BIG5),
        0x4E | 0x79 => Some(encoding_rs::EUC_KR),
        0x13 | 0x7B => Some(encoding_rs::SHIFT_JIS),
        0x50 | 0x7C => Some(encoding_rs::WINDOWS_874),
        0x03 | 0x58 | 0x59 => Some(WINDOWS_1252),
        0x65 => Some(encoding_rs::IBM866),
        0x7D => Some(encoding_rs::WINDOWS_1255),
        0x7E => Some(encoding_rs::WINDOWS_1256),
        0xC8 => Some(encoding_rs::WINDOWS_1250),
        0xC9 => Some(encoding_rs::WINDOWS_1251),
        0xCA => Some(encoding_rs::WINDOWS_1254),
        0xCB => Some(encoding_rs::WINDOWS_1253),
        0xCC => Some(encoding_rs::WINDOWS_1257),
        _ => None,
    }
}

/// One column of the table.
#[derive(Clone, Debug)]
struct DbfField {
    name: String,
    kind: u8,
    offset: usize,
    len: usize,
    field_type: FieldType,
}

/// A streaming `.dbf` reader.
pub(super) struct DbfReader {
    path: PathBuf,
    reader: BufReader<File>,
    fields: Vec<DbfField>,
    num_records: u64,
    record_len: usize,
    next: u64,
    decoder: TextDecoder,
    buf: Vec<u8>,
}

/// One row: its attributes, or a row marked deleted.
pub(super) enum DbfRow {
    /// The attributes, and the values that could not be read as their field's type (each
    /// left empty), in words.
    Row(Attributes, Vec<String>),
    Deleted,
}

impl DbfReader {
    /// Opens `path`, choosing the text encoding from `cpg_path` (if it exists) or the header.
    pub(super) fn open(
        path: &Path,
        cpg_path: Option<&Path>,
        warnings: &mut Vec<Warning>,
    ) -> Result<DbfReader> {
        let file = File::open(path).map_err(|e| ImportError::io(path, e))?;
        let actual_len = file.metadata().map_err(|e| ImportError::io(path, e))?.len();
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let bad = |reason: String| ImportError::file(path, reason);
        if actual_len < 32 {
            return Err(bad(format!(
                "not a dBASE file: {actual_len} bytes, shorter than the 32-byte header"
            )));
        }
        let mut h = [0u8; 32];
        reader.read_exact(&mut h).map_err(|e| ImportError::io(path, e))?;
        let num_records = u64::from(u32::from_le_bytes([h[4], h[5], h[6], h[7]]));
        let header_len = usize::from(u16::from_le_bytes([h[8], h[9]]));
        let record_len = usize::from(u16::from_le_bytes([h[10], h[11]]));
        let ldid = h[29];
        if header_len < 33 || record_len < 1 || header_len as u64 > actual_len {
            return Err(bad(format!(
                "not a dBASE file: header length {header_len}, record length {record_len}, file length {actual_len}"
            )));
        }
        let mut desc = vec![0u8; header_len - 32];
        reader
            .read_exact(&mut desc)
            .map_err(|e| ImportError::io(path, e))?;
        let raw = parse_descriptors(&desc, record_len).map_err(bad)?;

        let decoder = choose_decoder(
            path,
            cpg_path,
            ldid,
            &mut reader,
            header_len,
            record_len,
            num_records,
            warnings,
        )?;
        let fields = name_fields(path, raw, decoder, warnings)?;
        reader
            .seek(SeekFrom::Start(header_len as u64))
            .map_err(|e| ImportError::io(path, e))?;
        Ok(DbfReader {
            path: path.to_path_buf(),
            reader,
            fields,
            num_records,
            record_len,
            next: 0,
            decoder,
            buf: vec![0u8; record_len],
        })
    }

    pub(super) fn field_defs(&self) -> Vec<FieldDef> {
        self.fields
            .iter()
            .map(|f| FieldDef {
                name: f.name.clone(),
                field_type: f.field_type,
            })
            .collect()
    }

    pub(super) fn num_records(&self) -> u64 {
        self.num_records
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The next row, `Ok(None)` after the last one the header announces. The error is the
    /// reason for a record error.
    pub(super) fn read_next(&mut self) -> std::result::Result<Option<DbfRow>, String> {
        if self.next >= self.num_records {
            return Ok(None);
        }
        self.next += 1;
        if let Err(e) = self.reader.read_exact(&mut self.buf) {
            return Err(match e.kind() {
                std::io::ErrorKind::UnexpectedEof => format!(
                    "truncated .dbf: the header announces {} records of {} bytes, but this one is incomplete",
                    self.num_records, self.record_len
                ),
                _ => format!("cannot read the .dbf record: {e}"),
            });
        }
        if self.buf[0] == b'*' {
            return Ok(Some(DbfRow::Deleted));
        }
        let mut attrs = Attributes::new();
        let mut problems = Vec::new();
        for f in &self.fields {
            let bytes = &self.buf[f.offset..f.offset + f.len];
            let (v, problem) = value(f, bytes, self.decoder);
            if let Some(p) = problem {
                let file = self
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                problems.push(format!("{file}: field '{}': {p}", f.name));
            }
            attrs.insert(f.name.clone(), v);
        }
        Ok(Some(DbfRow::Row(attrs, problems)))
    }
}

/// A field as the descriptor states it, name still raw bytes.
struct RawField {
    name: Vec<u8>,
    kind: u8,
    offset: usize,
    len: usize,
    decimals: u8,
}

fn parse_descriptors(desc: &[u8], record_len: usize) -> std::result::Result<Vec<RawField>, String> {
    let mut fields = Vec::new();
    let mut offset = 1; // the deletion flag
    for d in desc.chunks(32) {
        if d[0] == 0x0D {
            break;
        }
        if d.len() < 32 {
            return Err("garbled field descriptors: no terminator (0x0D)".into());
        }
        let kind = d[11];
        if !kind.is_ascii_alphanumeric() && kind != b'+' && kind != b'@' {
            return Err(format!(
                "garbled field descriptor {}: type byte 0x{kind:02X}",
                fields.len() + 1
            ));
        }
        let name_len = d[..11].iter().position(|&b| b == 0).unwrap_or(11);
        let len = usize::from(d[16]);
        fields.push(RawField {
            name: d[..name_len].to_vec(),
            kind: kind.to_ascii_uppercase(),
            offset,
            len,
            decimals: d[17],
        });
        offset += len;
    }
    if offset > record_len {
        return Err(format!(
            "garbled header: the fields need {offset} bytes per record but records are {record_len} bytes"
        ));
    }
    Ok(fields)
}

fn field_type(f: &RawField) -> FieldType {
    match f.kind {
        b'N' if f.decimals == 0 && f.len <= 18 => FieldType::Int,
        b'N' | b'F' | b'O' => FieldType::Real,
        b'I' | b'+' => FieldType::Int,
        b'L' => FieldType::Bool,
        b'D' => FieldType::Date,
        _ => FieldType::Text,
    }
}

/// Decodes field names; duplicate names (dBASE truncates to 10 bytes) get a `_2`, `_3` suffix.
fn name_fields(
    path: &Path,
    raw: Vec<RawField>,
    decoder: TextDecoder,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<DbfField>> {
    let mut out: Vec<DbfField> = Vec::with_capacity(raw.len());
    for (i, f) in raw.into_iter().enumerate() {
        let (name, bad) = decoder.decode_checked(&f.name);
        if bad || name.chars().any(|c| c.is_control()) {
            return Err(ImportError::file(
                path,
                format!(
                    "field {} has a name that is not valid {} text (bytes {}): the .dbf header is damaged, \
                     or its encoding is not what the .cpg or header says",
                    i + 1,
                    decoder.name(),
                    f.name
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        }
        let mut name = name.trim().to_string();
        if name.is_empty() {
            name = format!("field_{}", i + 1);
        }
        if out.iter().any(|o| o.name == name) {
            let base = name.clone();
            let mut k = 2;
            while out.iter().any(|o| o.name == name) {
                name = format!("{base}_{k}");
                k += 1;
            }
            warnings.push(warning(
                path,
                None,
                format!("duplicate field name '{base}' renamed to '{name}'"),
            ));
        }
        if f.kind == b'M' {
            warnings.push(warning(
                path,
                None,
                format!("memo field '{name}' is not read (no .dbt support); its values are empty"),
            ));
        }
        let field_type = field_type(&f);
        out.push(DbfField {
            name,
            kind: f.kind,
            offset: f.offset,
            len: f.len,
            field_type,
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn choose_decoder(
    path: &Path,
    cpg_path: Option<&Path>,
    ldid: u8,
    reader: &mut BufReader<File>,
    header_len: usize,
    record_len: usize,
    num_records: u64,
    warnings: &mut Vec<Warning>,
) -> Result<TextDecoder> {
    if let Some(cpg) = cpg_path {
        match std::fs::read(cpg) {
            Ok(bytes) => {
                let value = String::from_utf8_lossy(&bytes);
                if let Some(enc) = encoding_for_cpg(&value) {
                    return Ok(TextDecoder::Fixed(enc));
                }
                warnings.push(warning(
                    cpg,
                    None,
                    format!(
                        "unknown code page '{}'; using the .dbf language driver or guessing",
                        value.trim()
                    ),
                ));
            }
            Err(e) => warnings.push(warning(cpg, None, format!("cannot read the code page file: {e}"))),
        }
    }
    if let Some(enc) = encoding_for_ldid(ldid) {
        return Ok(TextDecoder::Fixed(enc));
    }
    // Unstated: look at the first records. ASCII or valid UTF-8 reads as UTF-8; anything else
    // is most likely GBK in Chinese data (or Windows-1252 where it is not valid GBK).
    reader
        .seek(SeekFrom::Start(header_len as u64))
        .map_err(|e| ImportError::io(path, e))?;
    let want = (num_records.min(SNIFF_RECORDS) * record_len as u64).min(SNIFF_MAX_BYTES);
    let mut sample = Vec::new();
    reader
        .by_ref()
        .take(want)
        .read_to_end(&mut sample)
        .map_err(|e| ImportError::io(path, e))?;
    let stated = match ldid {
        0 => "no .cpg file and no language driver id".to_string(),
        0x57 => "no .cpg file and language driver 0x57 (the writer's ANSI code page)".to_string(),
        other => format!("no .cpg file and unknown language driver 0x{other:02X}"),
    };
    if std::str::from_utf8(&sample).is_err() {
        let (_, gbk_errors) = GB18030.decode_without_bom_handling(&sample);
        let guess = if gbk_errors { "Windows-1252" } else { "GBK" };
        warnings.push(warning(
            path,
            None,
            format!(
                "{stated}, and the text is not UTF-8: reading it as {guess} (add a .cpg file to be sure)"
            ),
        ));
    } else if ldid != 0 && sample.iter().any(|b| !b.is_ascii()) {
        warnings.push(warning(
            path,
            None,
            format!("{stated}: the text is valid UTF-8, reading it as UTF-8"),
        ));
    }
    Ok(TextDecoder::Guess)
}

/// Trims the padding dBASE puts around values (spaces; some writers use NULs).
fn trim(bytes: &[u8]) -> &[u8] {
    let pad = |b: &u8| *b == b' ' || *b == 0;
    let start = bytes.iter().position(|b| !pad(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !pad(b)).map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}

/// A field's value, and what was wrong with it where it could not be read as the field's type
/// (the value is then empty). Blanks are empty without a word: that is how dBASE says null.
fn value(f: &DbfField, bytes: &[u8], decoder: TextDecoder) -> (AttrValue, Option<String>) {
    let text = |t: &[u8]| {
        let (s, bad) = decoder.decode_checked(t);
        let problem = bad.then(|| {
            format!(
                "text is not valid {}; unreadable bytes replaced by U+FFFD in '{s}'",
                decoder.name()
            )
        });
        (AttrValue::Text(s), problem)
    };
    let unreadable = |what: &str| {
        let raw = String::from_utf8_lossy(trim(bytes)).into_owned();
        (
            AttrValue::Null,
            Some(format!("value '{raw}' is not {what}; left empty")),
        )
    };
    match f.kind {
        b'C' => {
            let t = trim_end(bytes);
            if t.is_empty() {
                (AttrValue::Null, None)
            } else {
                text(t)
            }
        }
        b'M' => (AttrValue::Null, None),
        b'N' | b'F' => match std::str::from_utf8(trim(bytes)) {
            Ok(s) => match number(s, f.field_type) {
                Some(v) => (v, None),
                None if s.bytes().all(|b| b == b'*') => unreadable("a number (a dBASE overflow marker)"),
                None => unreadable("a number"),
            },
            Err(_) => unreadable("a number"),
        },
        b'L' => match trim(bytes).first() {
            Some(b'T' | b't' | b'Y' | b'y') => (AttrValue::Bool(true), None),
            Some(b'F' | b'f' | b'N' | b'n') => (AttrValue::Bool(false), None),
            None | Some(b'?') => (AttrValue::Null, None),
            Some(_) => unreadable("a logical value (T, F, Y, N or ?)"),
        },
        b'D' => match std::str::from_utf8(trim(bytes)).ok().and_then(date) {
            Some(v) => (v, None),
            None => unreadable("a date (YYYYMMDD)"),
        },
        b'I' | b'+' if bytes.len() == 4 => (
            AttrValue::Int(i64::from(i32::from_le_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3],
            ]))),
            None,
        ),
        b'O' if bytes.len() == 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(bytes);
            (AttrValue::Real(f64::from_le_bytes(b)), None)
        }
        _ => {
            let t = trim(bytes);
            if t.is_empty() {
                (AttrValue::Null, None)
            } else {
                text(t)
            }
        }
    }
}

/// Character values keep leading spaces (they can matter) but lose the trailing padding.
fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| *b != b' ' && *b != 0)
        .map_or(0, |e| e + 1);
    &bytes[..end]
}

/// A numeric value: `Some(Null)` for blanks, `None` for text that is not a number of the
/// field's type (a dBASE `*****` overflow marker, garbage).
fn number(s: &str, t: FieldType) -> Option<AttrValue> {
    let s = s.trim();
    if s.is_empty() {
        return Some(AttrValue::Null);
    }
    if t == FieldType::Int {
        if let Ok(i) = s.parse::<i64>() {
            return Some(AttrValue::Int(i));
        }
    }
    match s.parse::<f64>() {
        Ok(r) if t == FieldType::Int && r.fract() == 0.0 && r.abs() < 9.0e15 => {
            Some(AttrValue::Int(r as i64))
        }
        Ok(r) if t != FieldType::Int && r.is_finite() => Some(AttrValue::Real(r)),
        _ => None,
    }
}

/// A date: `Some(Null)` for blanks (spaces or zeros), `None` for anything but a real YYYYMMDD.
fn date(s: &str) -> Option<AttrValue> {
    let s = s.trim();
    if s.is_empty() || s.bytes().all(|b| b == b'0') {
        return Some(AttrValue::Null);
    }
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = s[0..4].parse().ok()?;
    let m = s[4..6].parse().ok()?;
    let d = s[6..8].parse().ok()?;
    Date::from_ymd(y, m, d).map(AttrValue::Date)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cpg_values_name_encodings() {
        for v in [
            "GBK",
            "gb2312",
            "GB18030",
            "936",
            "CP936",
            " cp936\r\n",
            "\u{feff}GBK",
        ] {
            assert_eq!(encoding_for_cpg(v), Some(GB18030), "{v:?}");
        }
        for v in ["UTF-8", "utf8", "65001"] {
            assert_eq!(encoding_for_cpg(v), Some(UTF_8), "{v}");
        }
        for v in ["1252", "ISO-8859-1", "ANSI 1252"] {
            assert_eq!(encoding_for_cpg(v), Some(WINDOWS_1252), "{v}");
        }
        assert_eq!(encoding_for_cpg("1251"), Some(encoding_rs::WINDOWS_1251));
        assert_eq!(encoding_for_cpg("iso-8859-2"), Some(encoding_rs::ISO_8859_2));
        assert_eq!(encoding_for_cpg("KLINGON"), None);
        assert_eq!(encoding_for_cpg("12345"), None);
    }

    #[test]
    fn language_driver_ids() {
        assert_eq!(encoding_for_ldid(0x4D), Some(GB18030));
        assert_eq!(encoding_for_ldid(0x7A), Some(GB18030));
        assert_eq!(encoding_for_ldid(0x00), None);
        assert_eq!(encoding_for_ldid(0x57), None);
    }

    #[test]
    fn guessing_falls_back_from_utf8_to_gbk() {
        let (gbk, _, _) = GB18030.encode("朝阳区建国路88号");
        assert_eq!(TextDecoder::Guess.decode_checked(&gbk).0, "朝阳区建国路88号");
        assert_eq!(TextDecoder::Guess.decode_checked("海淀区".as_bytes()).0, "海淀区");
        assert_eq!(TextDecoder::Guess.decode_checked(b"caf\xe9").0, "café");
    }

    #[test]
    fn numbers_dates_and_blanks() {
        assert_eq!(number("  42", FieldType::Int), Some(AttrValue::Int(42)));
        assert_eq!(number("42.0", FieldType::Int), Some(AttrValue::Int(42)));
        assert_eq!(number("1.5", FieldType::Real), Some(AttrValue::Real(1.5)));
        assert_eq!(number("*****", FieldType::Real), None);
        assert_eq!(number("12x.5", FieldType::Real), None);
        assert_eq!(number("", FieldType::Int), Some(AttrValue::Null));
        assert_eq!(
            date("20240229"),
            Some(AttrValue::Date(Date::from_ymd(2024, 2, 29).unwrap()))
        );
        assert_eq!(date("20230229"), None);
        assert_eq!(date("00000000"), Some(AttrValue::Null));
        assert_eq!(date("        "), Some(AttrValue::Null));
        assert_eq!(trim(b"  ab  \0"), b"ab");
        assert_eq!(trim(b"    "), b"");
    }
}
