//! GeoPackage geometry blobs (GP header + ISO WKB) (in progress).
