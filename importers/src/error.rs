use std::path::PathBuf;

/// An import failure. Every variant names the file; record-level ones name the record
/// (1-based, in the source's own order) and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// One record is unusable (garbled geometry, impossible coordinates) but the records after
    /// it can be read: the pipeline skips it with a warning (or stops under `--strict`).
    #[error("{path}: record {record}: {reason}", path = .path.display())]
    Record {
        path: PathBuf,
        record: u64,
        reason: String,
    },
    /// The file is damaged at this record (truncated, broken framing): nothing after it can be
    /// read, so the import stops and writes nothing.
    #[error("{path}: record {record}: {reason}", path = .path.display())]
    Damaged {
        path: PathBuf,
        record: u64,
        reason: String,
    },
    #[error("{path}: {reason}", path = .path.display())]
    File { path: PathBuf, reason: String },
    /// The import read its sources to the end and stored nothing (every record skipped, or
    /// none there): a failure unless the caller allowed an empty import. `report` says what was
    /// read and skipped, for the summary.
    #[error("{path}: nothing stored: {reason}", path = .path.display())]
    NothingStored {
        path: PathBuf,
        reason: String,
        report: Box<crate::pipeline::ImportReport>,
    },
    #[error("{path}: no coordinate reference system found ({reason}); pass --src-crs EPSG:xxxx", path = .path.display())]
    MissingCrs { path: PathBuf, reason: String },
    #[error("{path}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}", path = .path.display())]
    Engine {
        path: PathBuf,
        /// Boxed: `EngineError` is large, and this keeps every `Result` small.
        #[source]
        source: Box<cim_engine::EngineError>,
    },
}

impl ImportError {
    pub fn record(path: impl Into<PathBuf>, record: u64, reason: impl Into<String>) -> Self {
        ImportError::Record {
            path: path.into(),
            record,
            reason: reason.into(),
        }
    }
    pub fn damaged(path: impl Into<PathBuf>, record: u64, reason: impl Into<String>) -> Self {
        ImportError::Damaged {
            path: path.into(),
            record,
            reason: reason.into(),
        }
    }
    /// What went wrong, without the file's name (for a message that names the file already).
    pub fn reason(&self) -> String {
        match self {
            ImportError::File { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    pub fn file(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ImportError::File {
            path: path.into(),
            reason: reason.into(),
        }
    }
    pub fn engine(path: impl Into<PathBuf>, source: cim_engine::EngineError) -> Self {
        ImportError::Engine {
            path: path.into(),
            source: Box::new(source),
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ImportError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = ImportError> = std::result::Result<T, E>;

/// A problem that does not stop the import (a skipped record, a repaired ring), reported once
/// in the import summary instead of on stderr.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    pub path: PathBuf,
    /// 1-based record number in the source, where the warning is about one record.
    pub record: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.record {
            Some(r) => write!(f, "{}: record {r}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Warnings of one kind from one file: how many, and the first of them (its record and words).
/// A summary lists these instead of thousands of lines that differ only in their numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct WarningGroup {
    pub path: PathBuf,
    pub count: u64,
    /// The first warning's record, where the warnings are about records.
    pub first_record: Option<u64>,
    /// The first warning's message.
    pub message: String,
}

impl WarningGroup {
    /// The group in words without its file: "432 × coordinate … (first at record 1)".
    pub fn describe(&self) -> String {
        match (self.count, self.first_record) {
            (1, Some(r)) => format!("record {r}: {}", self.message),
            (1, None) => self.message.clone(),
            (n, Some(r)) => format!("{n} × {} (first at record {r})", self.message),
            (n, None) => format!("{n} × {}", self.message),
        }
    }
}

impl std::fmt::Display for WarningGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.describe())
    }
}

/// The kind of a warning: its message with every number blanked out, so that "coordinate
/// (500, 39.9) is outside …" and "coordinate (731, -12) is outside …" are one kind.
fn warning_kind(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut kind = String::with_capacity(message.len());
    let mut in_number = false;
    for (i, &c) in chars.iter().enumerate() {
        let digit_next = chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
        let numeric = c.is_ascii_digit()
            || (c == '-' && digit_next)
            || (in_number && matches!(c, '.' | 'e' | 'E' | '-' | '+') && digit_next);
        if numeric {
            if !in_number {
                kind.push('#');
            }
        } else {
            kind.push(c);
        }
        in_number = numeric;
    }
    kind
}

/// Groups warnings by file and kind (see [`WarningGroup`]), largest group first; groups of the
/// same size keep the order in which their first warning came.
///
/// # Examples
/// ```
/// use cim_importers::{group_warnings, Warning};
/// let w = |record, message: &str| Warning { path: "a.geojson".into(), record: Some(record), message: message.into() };
/// let groups = group_warnings(&[
///     w(1, "coordinate (500, 39.9) is outside longitude/latitude range"),
///     w(2, "no geometry; skipped"),
///     w(3, "coordinate (731.5, -12) is outside longitude/latitude range"),
/// ]);
/// assert_eq!(groups.len(), 2);
/// assert_eq!(groups[0].count, 2);
/// assert_eq!(groups[0].to_string(),
///     "a.geojson: 2 × coordinate (500, 39.9) is outside longitude/latitude range (first at record 1)");
/// assert_eq!(groups[1].to_string(), "a.geojson: record 2: no geometry; skipped");
/// ```
pub fn group_warnings(warnings: &[Warning]) -> Vec<WarningGroup> {
    let mut index: std::collections::HashMap<(&std::path::Path, String), usize> = Default::default();
    let mut groups: Vec<WarningGroup> = Vec::new();
    for w in warnings {
        let key = (w.path.as_path(), warning_kind(&w.message));
        match index.get(&key) {
            Some(&i) => groups[i].count += 1,
            None => {
                index.insert(key, groups.len());
                groups.push(WarningGroup {
                    path: w.path.clone(),
                    count: 1,
                    first_record: w.record,
                    message: w.message.clone(),
                });
            }
        }
    }
    // A stable sort: equal counts stay in the order they first came.
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    groups
}
