// Point clouds (cim-viewer, `tilesets/mod.rs`): each point is a quad of four vertices at the
// point, spread on screen by its corner (-1..1) into a round dot. The dot is the point spacing
// in metres seen from where the camera is (so near points grow and far ones shrink), held
// between a smallest and a largest size in pixels.

#import bevy_pbr::mesh_functions
#import bevy_pbr::mesh_view_bindings::view

struct PointParams {
    // About how far apart the tile's points are, m.
    size_m: f32,
    // The dot's smallest and largest diameter, pixels.
    min_px: f32,
    max_px: f32,
    // The point layer's opacity, 0-1.
    opacity: f32,
}

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: PointParams;

// The mesh's attributes at Bevy's locations: position 0, the corner as UV 2, colour 5.
struct PointIn {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
    @location(2) corner: vec2<f32>,
    @location(5) color: vec4<f32>,
}

struct PointOut {
    @builtin(position) clip: vec4<f32>,
    @location(0) corner: vec2<f32>,
    @location(1) color: vec4<f32>,
}

@vertex
fn vertex(v: PointIn) -> PointOut {
    let world = mesh_functions::get_world_from_local(v.instance_index) * vec4<f32>(v.position, 1.0);
    var clip = view.clip_from_world * world;
    // clip.w is the distance along the view; a metre there covers this many pixels.
    let w = max(clip.w, 0.0001);
    let px_per_m = view.clip_from_view[1][1] * 0.5 * view.viewport.w / w;
    let px = clamp(params.size_m * px_per_m, params.min_px, params.max_px);
    // Half the diameter each side of the centre, in clip units.
    clip.x = clip.x + v.corner.x * px / view.viewport.z * clip.w;
    clip.y = clip.y + v.corner.y * px / view.viewport.w * clip.w;
    var out: PointOut;
    out.clip = clip;
    out.corner = v.corner;
    out.color = v.color;
    return out;
}

@fragment
fn fragment(in: PointOut) -> @location(0) vec4<f32> {
    if dot(in.corner, in.corner) > 1.0 {
        discard;
    }
    return vec4<f32>(in.color.rgb, params.opacity);
}
