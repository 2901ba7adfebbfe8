// The flood's water surface (cim-viewer, `water.rs`): each wet cell's depth colour (the mesh's
// vertex colour, from `flood::depth_color`), faded by the water layer's opacity, with a slow
// shimmer so that water reads as water on a command hall's screen. The shimmer only brightens
// and darkens by `shimmer` at most, so the depth legend stays true.

struct WaterParams {
    // The water layer's opacity, 0-1 (the Layers panel).
    opacity: f32,
    // Seconds since the window opened (0 in offscreen renders, so images are repeatable).
    time_s: f32,
    // Largest relative change of brightness.
    shimmer: f32,
    _padding: f32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: WaterParams;

// What Bevy's mesh vertex shader hands on (bevy_pbr::forward_io::VertexOutput, for a mesh with
// positions, normals and colours): only the locations used here.
struct WaterInput {
    @builtin(position) position: vec4<f32>,
    @location(0) world_position: vec4<f32>,
    @location(1) world_normal: vec3<f32>,
    @location(5) color: vec4<f32>,
}

// Two crossing swells and a faster ripple, in -1..1; the world's x and z are metres.
fn swell(p: vec2<f32>, t: f32) -> f32 {
    let a = sin(p.x * 0.21 + t * 0.9) * sin(p.y * 0.17 - t * 0.7);
    let b = sin((p.x + p.y) * 0.43 + t * 1.7);
    return (a + 0.5 * b) / 1.5;
}

@fragment
fn fragment(in: WaterInput) -> @location(0) vec4<f32> {
    let light = 1.0 + params.shimmer * swell(in.world_position.xz, params.time_s);
    let alpha = clamp(in.color.a * params.opacity, 0.0, 1.0);
    return vec4<f32>(in.color.rgb * light, alpha);
}
