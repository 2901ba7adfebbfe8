//! The flood water's material: a WGSL fragment shader (`shaders/water.wgsl`) over Bevy's mesh
//! vertex shader. Each wet cell keeps its depth colour (vertex colours from
//! [`crate::model::flood::depth_color`], so the legend is the one truth); the shader fades it by the
//! water layer's opacity and lets it shimmer in the window. The shader is validated with naga
//! in the tests, with no GPU.

use bevy::asset::uuid_handle;
use bevy::pbr::{Material, MaterialPlugin};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, ShaderType};
use bevy::shader::{Shader, ShaderRef};

/// The shader's source.
pub const WATER_WGSL: &str = include_str!("shaders/water.wgsl");

/// Where the shader is kept among Bevy's shaders.
pub const WATER_SHADER: Handle<Shader> = uuid_handle!("5b0f3c2e-8d1a-4e6b-9f27-6c3d4a1e8b90");

/// How much brighter or darker the shimmer makes the water at most, in the window.
pub const SHIMMER: f32 = 0.06;

/// The shader's uniform (`WaterParams` in the WGSL: four f32, 16 bytes).
#[derive(ShaderType, Clone, Copy, Debug, PartialEq)]
pub struct WaterParams {
    pub opacity: f32,
    pub time_s: f32,
    pub shimmer: f32,
    pub padding: f32,
}

/// The water surface's material.
#[derive(Asset, TypePath, AsBindGroup, Clone, Debug)]
pub struct WaterMaterial {
    #[uniform(0)]
    pub params: WaterParams,
}

impl WaterMaterial {
    /// Opaque as drawn, still.
    pub fn still() -> WaterMaterial {
        WaterMaterial {
            params: WaterParams {
                opacity: 1.0,
                time_s: 0.0,
                shimmer: 0.0,
                padding: 0.0,
            },
        }
    }
}

impl Material for WaterMaterial {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(WATER_SHADER)
    }

    fn alpha_mode(&self) -> AlphaMode {
        AlphaMode::Blend
    }

    fn depth_bias(&self) -> f32 {
        // Over the terrain it lies on at shallow depths.
        20.0
    }
}

/// The water material and its shader; `animate` makes it shimmer (the window; offscreen
/// renders stay still so that images repeat).
pub struct WaterPlugin {
    pub animate: bool,
}

impl Plugin for WaterPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(MaterialPlugin::<WaterMaterial>::default());
        let inserted = app.world_mut().resource_mut::<Assets<Shader>>().insert(
            &WATER_SHADER,
            Shader::from_wgsl(WATER_WGSL, "cim-viewer/shaders/water.wgsl"),
        );
        if let Err(e) = inserted {
            warn!("water shader: {e}");
        }
        if self.animate {
            app.add_systems(Update, shimmer);
        }
    }
}

/// Moves the shimmer on, about 10 times a second (each change sends one small uniform).
fn shimmer(time: Res<Time>, mut materials: ResMut<Assets<WaterMaterial>>, mut last: Local<f32>) {
    let t = time.elapsed_secs();
    if (t - *last).abs() < 0.1 {
        return;
    }
    *last = t;
    for (_, m) in materials.iter_mut() {
        m.params.time_s = t;
        m.params.shimmer = SHIMMER;
    }
}
