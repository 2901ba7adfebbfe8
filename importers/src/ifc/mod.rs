//! IFC (BIM) models: the STEP physical file reader ([`step`]) that IFC 2x3, 4 and 4.3 files are
//! read with. The model (spatial structure, products, placements, geometry, georeferencing)
//! builds on it.

pub mod step;
