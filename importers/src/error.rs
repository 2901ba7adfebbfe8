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
