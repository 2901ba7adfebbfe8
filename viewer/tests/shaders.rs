//! The viewer's WGSL shaders, parsed and validated with naga (no GPU): a shader that does not
//! compile would otherwise only show as a missing water surface at run time.
#![allow(clippy::unwrap_used)]

use cim_viewer::playback::water::{WaterParams, WATER_WGSL};

/// The source as Bevy hands it to naga: its material bind group number filled in.
fn preprocessed(src: &str) -> String {
    src.replace("#{MATERIAL_BIND_GROUP}", "3")
}

/// The locations entry point `entry` reads its inputs from (members of its struct arguments),
/// sorted.
fn input_locations(module: &naga::Module, entry: &str) -> Vec<u32> {
    let e = module.entry_points.iter().find(|e| e.name == entry).unwrap();
    let mut locations: Vec<u32> = e
        .function
        .arguments
        .iter()
        .flat_map(|a| match &module.types[a.ty].inner {
            naga::TypeInner::Struct { members, .. } => members
                .iter()
                .filter_map(|m| match m.binding {
                    Some(naga::Binding::Location { location, .. }) => Some(location),
                    _ => None,
                })
                .collect::<Vec<_>>(),
            _ => vec![],
        })
        .collect();
    locations.sort_unstable();
    locations
}

#[test]
fn the_water_shader_is_valid_wgsl_with_the_uniform_rust_sends() {
    let src = preprocessed(WATER_WGSL);
    assert!(
        !src.contains("#{") && !src.contains("#import"),
        "left to preprocess"
    );
    let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{}", e.emit_to_string(&src)));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module);
    if let Err(e) = info {
        panic!("{}", e.emit_to_string(&src));
    }
    // One fragment entry point named as Bevy's material pipeline calls it.
    let entries: Vec<(&str, naga::ShaderStage)> = module
        .entry_points
        .iter()
        .map(|e| (e.name.as_str(), e.stage))
        .collect();
    assert_eq!(entries, vec![("fragment", naga::ShaderStage::Fragment)]);
    // The uniform is at the material's group and binding 0, and as large as the Rust struct.
    let params = module
        .global_variables
        .iter()
        .map(|(_, g)| g)
        .find(|g| g.name.as_deref() == Some("params"))
        .unwrap();
    let binding = params.binding.as_ref().unwrap();
    assert_eq!((binding.group, binding.binding), (3, 0));
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    let wgsl_size = layouter[params.ty].size as usize;
    assert_eq!(wgsl_size, std::mem::size_of::<WaterParams>());
    assert_eq!(wgsl_size, 16);
    // It reads the vertex colour at Bevy's location for it (5) and the world position (0).
    assert_eq!(input_locations(&module, "fragment"), vec![0, 1, 5]);
}

#[test]
fn a_broken_shader_is_caught() {
    // The check above is not vacuous: a type error in the same source fails validation.
    let broken = preprocessed(WATER_WGSL).replace("in.color.rgb * light", "in.color * light");
    let parsed = naga::front::wgsl::parse_str(&broken);
    let failed = match parsed {
        Err(_) => true,
        Ok(m) => naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&m)
        .is_err(),
    };
    assert!(failed);
}

/// The points shader with Bevy's imports stood in for by what it uses of them (the view's
/// matrices and viewport, the mesh's transform), as the preprocessor would resolve them.
fn points_preprocessed() -> String {
    let stub = "struct View { clip_from_world: mat4x4<f32>, clip_from_view: mat4x4<f32>, viewport: vec4<f32> }\n\
        @group(0) @binding(0) var<uniform> view: View;\n\
        fn get_world_from_local(i: u32) -> mat4x4<f32> { return mat4x4<f32>(vec4<f32>(1.0, 0.0, 0.0, 0.0), vec4<f32>(0.0, 1.0, 0.0, 0.0), vec4<f32>(0.0, 0.0, 1.0, 0.0), vec4<f32>(0.0, 0.0, 0.0, 1.0)); }\n";
    let src = preprocessed(cim_viewer::tilesets::POINTS_WGSL)
        .replace("#import bevy_pbr::mesh_functions\n", "")
        .replace("#import bevy_pbr::mesh_view_bindings::view\n", stub)
        .replace("mesh_functions::get_world_from_local", "get_world_from_local");
    assert!(
        !src.contains("#{") && !src.contains("#import"),
        "left to preprocess"
    );
    src
}

#[test]
fn the_points_shader_is_valid_wgsl_with_the_uniform_and_attributes_rust_sends() {
    let src = points_preprocessed();
    let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{}", e.emit_to_string(&src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{}", e.emit_to_string(&src)));
    let mut entries: Vec<(&str, naga::ShaderStage)> = module
        .entry_points
        .iter()
        .map(|e| (e.name.as_str(), e.stage))
        .collect();
    entries.sort_by_key(|e| e.0);
    assert_eq!(
        entries,
        vec![
            ("fragment", naga::ShaderStage::Fragment),
            ("vertex", naga::ShaderStage::Vertex)
        ]
    );
    let params = module
        .global_variables
        .iter()
        .map(|(_, g)| g)
        .find(|g| g.name.as_deref() == Some("params"))
        .unwrap();
    let b = params.binding.as_ref().unwrap();
    assert_eq!((b.group, b.binding), (3, 0));
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    assert_eq!(
        layouter[params.ty].size as usize,
        std::mem::size_of::<cim_viewer::tilesets::PointParams>()
    );
    // The vertex stage reads position, corner (UV) and colour where Bevy's mesh pipeline puts
    // them: locations 0, 2 and 5.
    assert_eq!(input_locations(&module, "vertex"), vec![0, 2, 5]);
}
