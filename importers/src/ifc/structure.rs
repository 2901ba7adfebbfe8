//! The model's structure: its products (every instance with a GlobalId and an object placement:
//! spatial elements such as the site, buildings, storeys, spaces and facility parts, and the
//! elements in them), each with its class, GlobalId and name, and the spatial element that holds
//! it (`IfcRelContainedInSpatialStructure`; a part of an aggregate, a window in an opening, an
//! opening in a wall, held where its whole is, as IfcOpenShell's `get_container` has it; spatial
//! elements themselves, which are aggregated rather than held, have none). Found by the shape of the instances, so it reads IFC 2x3, 4 and 4.3
//! alike without the schemas' inheritance tables.

use std::collections::HashMap;

use crate::error::Result;

use super::step::{StepFile, Value};

/// A product of the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub id: u64,
    /// As IFC names it (`IfcWallStandardCase`).
    pub class: String,
    pub global_id: String,
    pub name: Option<String>,
    /// Its `IfcLocalPlacement` (or other placement).
    pub placement: Option<u64>,
    /// Its `IfcProductDefinitionShape`.
    pub representation: Option<u64>,
    /// The spatial element (storey, building, site, space…) that holds it.
    pub container: Option<u64>,
}

/// The products, by id.
#[derive(Debug, Default)]
pub struct Structure {
    pub products: Vec<Product>,
    index: HashMap<u64, usize>,
}

impl Structure {
    pub fn get(&self, id: u64) -> Option<&Product> {
        self.index.get(&id).map(|&k| &self.products[k])
    }
}

/// IFC's spelling of some upper-case STEP type names whose words the rule in [`class_name`]
/// cannot find.
const CLASSES: &[&str] = &[
    "IfcAlignment",
    "IfcAnnotation",
    "IfcBeam",
    "IfcBearing",
    "IfcBorehole",
    "IfcBridge",
    "IfcBridgePart",
    "IfcBuilding",
    "IfcBuildingElementPart",
    "IfcBuildingElementProxy",
    "IfcBuildingStorey",
    "IfcChimney",
    "IfcCivilElement",
    "IfcColumn",
    "IfcColumnStandardCase",
    "IfcCourse",
    "IfcCovering",
    "IfcCurtainWall",
    "IfcDistributionControlElement",
    "IfcDistributionElement",
    "IfcDistributionFlowElement",
    "IfcDistributionPort",
    "IfcDoor",
    "IfcDoorStandardCase",
    "IfcEarthworksCut",
    "IfcEarthworksFill",
    "IfcElementAssembly",
    "IfcElementComponent",
    "IfcEnergyConversionDevice",
    "IfcFacility",
    "IfcFacilityPart",
    "IfcFastener",
    "IfcFlowController",
    "IfcFlowFitting",
    "IfcFlowMovingDevice",
    "IfcFlowSegment",
    "IfcFlowStorageDevice",
    "IfcFlowTerminal",
    "IfcFlowTreatmentDevice",
    "IfcFooting",
    "IfcFurnishingElement",
    "IfcFurniture",
    "IfcGeographicElement",
    "IfcGeotechnicalStratum",
    "IfcGrid",
    "IfcKerb",
    "IfcMarineFacility",
    "IfcMechanicalFastener",
    "IfcMember",
    "IfcMemberStandardCase",
    "IfcOpeningElement",
    "IfcOpeningStandardCase",
    "IfcPavement",
    "IfcPile",
    "IfcPipeSegment",
    "IfcPlate",
    "IfcPlateStandardCase",
    "IfcProxy",
    "IfcRailing",
    "IfcRailway",
    "IfcRamp",
    "IfcRampFlight",
    "IfcReinforcingBar",
    "IfcReinforcingMesh",
    "IfcRoad",
    "IfcRoadPart",
    "IfcRoof",
    "IfcSensor",
    "IfcShadingDevice",
    "IfcSign",
    "IfcSignal",
    "IfcSite",
    "IfcSlab",
    "IfcSlabElementedCase",
    "IfcSlabStandardCase",
    "IfcSolidStratum",
    "IfcSpace",
    "IfcStair",
    "IfcStairFlight",
    "IfcSurfaceFeature",
    "IfcTendon",
    "IfcTransportElement",
    "IfcVirtualElement",
    "IfcWall",
    "IfcWallElementedCase",
    "IfcWallStandardCase",
    "IfcWindow",
    "IfcWindowStandardCase",
    "IfcBuiltElement",
    "IfcFeatureElementSubtraction",
    "IfcProjectionElement",
    "IfcVoidingFeature",
    "IfcDiscreteAccessory",
    "IfcCableSegment",
    "IfcCableCarrierSegment",
    "IfcDuctSegment",
    "IfcLightFixture",
    "IfcSanitaryTerminal",
    "IfcSpaceHeater",
    "IfcAirTerminal",
    "IfcValve",
    "IfcPump",
    "IfcTank",
    "IfcBoiler",
    "IfcChiller",
    "IfcFan",
    "IfcOutlet",
    "IfcSwitchingDevice",
    "IfcElectricAppliance",
    "IfcAlarm",
    "IfcActuator",
    "IfcController",
];

/// IFC's spelling of an upper-case STEP type name: a known class (`IFCWALLSTANDARDCASE` →
/// `IfcWallStandardCase`), else `Ifc` and the rest in lower case with its first letter raised.
pub fn class_name(ty: &str) -> String {
    if let Some(c) = CLASSES.iter().find(|c| c.eq_ignore_ascii_case(ty)) {
        return (*c).to_string();
    }
    match ty.strip_prefix("IFC") {
        Some(rest) if !rest.is_empty() => {
            let lower = rest.to_ascii_lowercase();
            let mut out = String::from("Ifc");
            let mut chars = lower.chars();
            if let Some(c) = chars.next() {
                out.push(c.to_ascii_uppercase());
            }
            out.extend(chars);
            out
        }
        _ => ty.to_string(),
    }
}

/// Whether an instance is shaped as a product: a GlobalId (22 characters), then owner history,
/// name, description, object type, and a placement and representation (each a reference to
/// one of those types, or not given).
fn is_product(f: &StepFile, params: &[Value]) -> bool {
    let guid = params
        .first()
        .and_then(Value::as_str)
        .is_some_and(|g| g.len() == 22);
    if !guid || params.len() < 7 {
        return false;
    }
    let placement = match &params[5] {
        Value::Ref(r) => matches!(
            f.type_of(*r),
            Some("IFCLOCALPLACEMENT" | "IFCGRIDPLACEMENT" | "IFCLINEARPLACEMENT")
        ),
        Value::Null => true,
        _ => false,
    };
    let shape = match &params[6] {
        Value::Ref(r) => f.type_of(*r) == Some("IFCPRODUCTDEFINITIONSHAPE"),
        Value::Null => true,
        _ => false,
    };
    // A type object has no placement attribute there; a relationship has lists there.
    placement && shape && (matches!(params[5], Value::Ref(_)) || matches!(params[6], Value::Ref(_)))
}

/// Reads the products and where each is held.
pub fn read_structure(f: &StepFile) -> Result<Structure> {
    let mut s = Structure::default();
    let skip = [
        "IFCPROJECT",
        "IFCRELAGGREGATES",
        "IFCRELCONTAINEDINSPATIALSTRUCTURE",
    ];
    for (ty, _) in f.type_counts() {
        if skip.contains(&ty.as_str()) || ty.starts_with("IFCREL") || ty.ends_with("TYPE") {
            continue;
        }
        let ids = f.ids_of(&ty);
        // Types that are never products (points, directions…) are ruled out by their first.
        let Some(&first) = ids.first() else { continue };
        let first = f.get(first)?;
        if first
            .params
            .first()
            .and_then(Value::as_str)
            .is_none_or(|g| g.len() != 22)
        {
            continue;
        }
        for id in ids {
            let i = f.get(id)?;
            if !is_product(f, &i.params) {
                continue;
            }
            s.index.insert(id, s.products.len());
            s.products.push(Product {
                id,
                class: class_name(&i.ty),
                global_id: i.params[0].as_str().unwrap_or("").to_string(),
                name: i.params.get(2).and_then(Value::as_str).map(str::to_string),
                placement: i.params.get(5).and_then(Value::as_ref_id),
                representation: i.params.get(6).and_then(Value::as_ref_id),
                container: None,
            });
        }
    }
    s.products.sort_by_key(|p| p.id);
    s.index = s.products.iter().enumerate().map(|(k, p)| (p.id, k)).collect();
    // Held directly…
    for rel in f.ids_of("IFCRELCONTAINEDINSPATIALSTRUCTURE") {
        let r = f.get(rel)?;
        let Some(structure) = r.params.get(5).and_then(Value::as_ref_id) else {
            continue;
        };
        for e in r.params.get(4).and_then(Value::as_list).unwrap_or(&[]) {
            if let Some(&k) = e.as_ref_id().and_then(|e| s.index.get(&e)) {
                s.products[k].container.get_or_insert(structure);
            }
        }
    }
    // …or as its whole is, IfcOpenShell's way: the whole it is part of (aggregation, nesting),
    // the opening it fills, the element it is an opening in, followed up to one held directly.
    let mut whole_of: HashMap<u64, u64> = HashMap::new();
    for rel in ["IFCRELAGGREGATES", "IFCRELNESTS"]
        .iter()
        .flat_map(|t| f.ids_of(t))
    {
        let r = f.get(rel)?;
        let Some(whole) = r.params.get(4).and_then(Value::as_ref_id) else {
            continue;
        };
        for part in r.params.get(5).and_then(Value::as_list).unwrap_or(&[]) {
            if let Some(p) = part.as_ref_id() {
                whole_of.entry(p).or_insert(whole);
            }
        }
    }
    for rel in ["IFCRELVOIDSELEMENT", "IFCRELFILLSELEMENT"]
        .iter()
        .flat_map(|t| f.ids_of(t))
    {
        let r = f.get(rel)?;
        if let (Some(whole), Some(part)) = (
            r.params.get(4).and_then(Value::as_ref_id),
            r.params.get(5).and_then(Value::as_ref_id),
        ) {
            whole_of.entry(part).or_insert(whole);
        }
    }
    let direct: HashMap<u64, u64> = s
        .products
        .iter()
        .filter_map(|p| p.container.map(|c| (p.id, c)))
        .collect();
    for p in &mut s.products {
        if p.container.is_some() {
            continue;
        }
        let mut at = p.id;
        // At most 64 steps (a loop of wholes ends there, unheld).
        for _ in 0..64 {
            let Some(&whole) = whole_of.get(&at) else { break };
            if let Some(&c) = direct.get(&whole) {
                p.container = Some(c);
                break;
            }
            at = whole;
        }
    }
    Ok(s)
}
