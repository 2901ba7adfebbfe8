//! GeoPackage project store (in progress).
