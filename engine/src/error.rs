use std::path::PathBuf;

/// Everything that can go wrong in the engine. User-facing variants name the file, the record
/// and the reason, so the CLI can print them on one line.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(
        "unknown coordinate reference system '{crs}'{}: {reason}; give the source CRS with --src-crs (e.g. --src-crs EPSG:4547)",
        source_hint(.path)
    )]
    UnknownCrs {
        crs: String,
        reason: String,
        path: Option<PathBuf>,
    },
    #[error("coordinate transform failed for point ({x}, {y}): {reason}")]
    Transform { x: f64, y: f64, reason: String },
    #[error("the project CRS must be projected in metres, got {crs}")]
    NotProjected { crs: String },
    #[error("invalid date '{text}': expected YYYY-MM-DD")]
    InvalidDate { text: String },
    #[error("invalid city code '{text}': {reason}")]
    InvalidCityCode { text: String, reason: String },
    #[error("{path}: not a cim project: {reason}")]
    NotAProject { path: PathBuf, reason: String },
    #[error("{path}: project already exists")]
    ProjectExists { path: PathBuf },
    #[error("layer '{layer}' not found")]
    LayerNotFound { layer: String },
    #[error("layer '{layer}': {reason}")]
    Layer { layer: String, reason: String },
    #[error("feature {code} not found")]
    FeatureNotFound { code: String },
    #[error("viewpoint '{name}': {reason}")]
    Viewpoint { name: String, reason: String },
    #[error("terrain '{name}': {reason}")]
    Terrain { name: String, reason: String },
    #[error("run '{name}': {reason}")]
    Run { name: String, reason: String },
    #[error("tileset '{name}': {reason}")]
    Tileset { name: String, reason: String },
    #[error("road network: {reason}")]
    Network { reason: String },
    #[error("invalid geometry: {reason}")]
    Geometry { reason: String },
    #[error("city code {code} in layer '{layer}' already belongs to layer '{existing_layer}'")]
    DuplicateCode {
        code: String,
        layer: String,
        existing_layer: String,
    },
    #[error("{path}: layer '{layer}' fid {fid}: unreadable geometry: {source}")]
    StoredGeometry {
        layer: String,
        fid: i64,
        #[source]
        source: crate::gpkg::GpkgError,
        path: PathBuf,
    },
    /// A database error, in words (not SQLite's "Error code 8"); the SQLite error is kept for
    /// callers that match on it, and not chained, since the words already say it.
    #[error("{path}: {}", sqlite_reason(.error))]
    Sqlite { path: PathBuf, error: rusqlite::Error },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a SQLite error means for the person running cim, and what to do about it.
pub fn sqlite_reason(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    let said = match e {
        rusqlite::Error::SqliteFailure(f, Some(m)) => format!("{m} (SQLite code {})", f.extended_code),
        other => other.to_string(),
    };
    match e.sqlite_error_code() {
        Some(C::ReadOnly) => {
            "the project file is read-only: make it writable, or copy it to a folder you can write to".into()
        }
        Some(C::DatabaseBusy | C::DatabaseLocked) => {
            "the project is in use by another program (locked); try again when it has finished".into()
        }
        Some(C::NotADatabase) => "not a SQLite database, so not a GeoPackage or cim project".into(),
        Some(C::DiskFull) => "the disk is full; nothing was written".into(),
        Some(C::PermissionDenied) => "permission denied".into(),
        Some(C::CannotOpen) => {
            format!("cannot open the file ({said}): does its folder exist, and may you write there?")
        }
        Some(C::SystemIoFailure) => format!("the disk refused a read or write ({said})"),
        _ => said,
    }
}

fn source_hint(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!(" in {}", p.display()),
        None => String::new(),
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
