//! IFC (BIM) models: the STEP physical file reader ([`step`]) that IFC 2x3, 4 and 4.3 files are
//! read with, and where a model lies on the map ([`georef`]). The model (spatial structure,
//! products, placements, geometry) builds on them.

pub mod body;
pub mod geometry;
pub mod georef;
pub mod import;
pub mod placement;
pub mod solid;
pub mod step;
pub mod structure;
