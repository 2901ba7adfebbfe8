//! # cim-viewer — the 3D viewer (Bevy/wgpu)
//!
//! The only crate that will depend on bevy, wgpu or winit. It reads `cim-engine` projects and
//! scenario results and never the reverse.
//!
//! Nothing is implemented here yet: the viewer issue builds it on the foundation.
