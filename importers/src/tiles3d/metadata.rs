//! Feature properties as values: the binary columns of EXT_structural_metadata property tables
//! and of 3D Tiles batch tables decoded into JSON arrays, one value a feature, so that a
//! feature id (`_FEATURE_ID_0`, `_BATCHID`) finds its attributes.

use serde_json::{json, Map, Value};

/// Bytes of one component of `component` (a metadata or batch table component type).
fn width(component: &str) -> Option<usize> {
    Some(match component {
        "INT8" | "UINT8" | "BYTE" | "UNSIGNED_BYTE" => 1,
        "INT16" | "UINT16" | "SHORT" | "UNSIGNED_SHORT" => 2,
        "INT32" | "UINT32" | "FLOAT32" | "INT" | "UNSIGNED_INT" | "FLOAT" => 4,
        "INT64" | "UINT64" | "FLOAT64" | "DOUBLE" => 8,
        _ => return None,
    })
}

/// Components of one element of `ty`.
fn components(ty: &str) -> Option<usize> {
    Some(match ty {
        "SCALAR" | "ENUM" | "STRING" | "BOOLEAN" => 1,
        "VEC2" => 2,
        "VEC3" => 3,
        "VEC4" => 4,
        "MAT2" => 4,
        "MAT3" => 9,
        "MAT4" => 16,
        _ => return None,
    })
}

/// The component of type `component` at the start of `b` (enough bytes there), as JSON.
fn component_at(b: &[u8], component: &str) -> Value {
    let a = |n: usize| -> [u8; 8] {
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(&b[..n]);
        x
    };
    match component {
        "INT8" | "BYTE" => json!(b[0] as i8),
        "UINT8" | "UNSIGNED_BYTE" => json!(b[0]),
        "INT16" | "SHORT" => json!(i16::from_le_bytes([b[0], b[1]])),
        "UINT16" | "UNSIGNED_SHORT" => json!(u16::from_le_bytes([b[0], b[1]])),
        "INT32" | "INT" => json!(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "UINT32" | "UNSIGNED_INT" => json!(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "FLOAT32" | "FLOAT" => {
            let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            // As written (1.1, not 1.100000023841858).
            json!(v.to_string().parse::<f64>().unwrap_or(f64::from(v)))
        }
        "INT64" => json!(i64::from_le_bytes(a(8))),
        "UINT64" => json!(u64::from_le_bytes(a(8))),
        "FLOAT64" | "DOUBLE" => json!(f64::from_le_bytes(a(8))),
        _ => Value::Null,
    }
}

/// `count` elements of `n` components of `component` from `bytes`, each a number or an array.
fn numbers(bytes: &[u8], component: &str, n: usize, count: usize) -> Result<Vec<Value>, String> {
    let w = width(component).ok_or_else(|| format!("component type '{component}' is not known"))?;
    let need = count * n * w;
    if bytes.len() < need {
        return Err(format!("{} bytes where {count} values need {need}", bytes.len()));
    }
    Ok((0..count)
        .map(|k| {
            let at = |c: usize| component_at(&bytes[(k * n + c) * w..], component);
            if n == 1 {
                at(0)
            } else {
                Value::Array((0..n).map(at).collect())
            }
        })
        .collect())
}

/// Offsets (`count + 1` of `offset_type`, UINT32 by default) from `bytes`.
fn offsets(bytes: &[u8], offset_type: Option<&str>, count: usize) -> Result<Vec<usize>, String> {
    let t = offset_type.unwrap_or("UINT32");
    let w = width(t).ok_or_else(|| format!("offset type '{t}' is not known"))?;
    if bytes.len() < (count + 1) * w {
        return Err(format!(
            "{} bytes of offsets where {} are needed",
            bytes.len(),
            (count + 1) * w
        ));
    }
    Ok((0..=count)
        .map(|k| {
            let mut x = [0u8; 8];
            x[..w].copy_from_slice(&bytes[k * w..k * w + w]);
            u64::from_le_bytes(x) as usize
        })
        .collect())
}

/// One property table of EXT_structural_metadata decoded: `{name, class, count, properties:
/// {property: [value of each feature]}}`; a property that cannot be read is left out and said
/// in `problems`. `view` gives a buffer view's bytes.
pub fn property_table(
    ext: &Value,
    table: &Value,
    view: &dyn Fn(usize) -> Option<Vec<u8>>,
    problems: &mut Vec<String>,
) -> Value {
    let count = table.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
    let class = table.get("class").and_then(Value::as_str).unwrap_or("");
    let schema_props = ext.pointer(&format!("/schema/classes/{class}/properties"));
    let mut out = Map::new();
    let Some(props) = table.get("properties").and_then(Value::as_object) else {
        return json!({"class": class, "count": count, "properties": {}});
    };
    for (name, p) in props {
        let def = schema_props.and_then(|s| s.get(name));
        let got = (|| -> Result<Vec<Value>, String> {
            let def = def.ok_or("not in the schema")?;
            let ty = def.get("type").and_then(Value::as_str).unwrap_or("SCALAR");
            let comp = def.get("componentType").and_then(Value::as_str).unwrap_or("");
            let values = p
                .get("values")
                .and_then(Value::as_u64)
                .and_then(|v| view(v as usize))
                .ok_or("its values' buffer view is missing")?;
            if def.get("array").and_then(Value::as_bool).unwrap_or(false) {
                let n = def
                    .get("count")
                    .and_then(Value::as_u64)
                    .ok_or("variable-length arrays are not read")? as usize;
                let n = n * components(ty).ok_or("unknown type")?;
                return numbers(&values, comp, n, count);
            }
            match ty {
                "STRING" => {
                    let so = p
                        .get("stringOffsets")
                        .and_then(Value::as_u64)
                        .and_then(|v| view(v as usize))
                        .ok_or("its string offsets are missing")?;
                    let o = offsets(&so, p.get("stringOffsetType").and_then(Value::as_str), count)?;
                    (0..count)
                        .map(|k| {
                            let s = values
                                .get(o[k]..o[k + 1])
                                .ok_or("a string runs past its buffer view")?;
                            Ok(json!(String::from_utf8_lossy(s)))
                        })
                        .collect()
                }
                "BOOLEAN" => {
                    if values.len() * 8 < count {
                        return Err("too few bits".into());
                    }
                    Ok((0..count)
                        .map(|k| json!(values[k / 8] >> (k % 8) & 1 == 1))
                        .collect())
                }
                "ENUM" => {
                    let e = def.get("enumType").and_then(Value::as_str).unwrap_or("");
                    let en = ext
                        .pointer(&format!("/schema/enums/{e}"))
                        .ok_or("its enum is not in the schema")?;
                    let vt = en.get("valueType").and_then(Value::as_str).unwrap_or("UINT16");
                    let names: std::collections::HashMap<i64, String> = en
                        .get("values")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| {
                                    Some((v.get("value")?.as_i64()?, v.get("name")?.as_str()?.to_string()))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(numbers(&values, vt, 1, count)?
                        .into_iter()
                        .map(|v| v.as_i64().and_then(|i| names.get(&i)).map_or(v, |n| json!(n)))
                        .collect())
                }
                _ => numbers(&values, comp, components(ty).ok_or("unknown type")?, count),
            }
        })();
        match got {
            Ok(v) => {
                out.insert(name.clone(), Value::Array(v));
            }
            Err(e) => problems.push(format!("property table '{class}', property '{name}': {e}")),
        }
    }
    json!({"name": table.get("name").cloned().unwrap_or(Value::Null), "class": class, "count": count, "properties": out})
}

/// A batch table with its binary properties (`{byteOffset, componentType, type}`) replaced by
/// their `count` values; what cannot be read is left out and said in `problems`.
pub fn batch_table(bt: Value, bin: &[u8], count: usize, problems: &mut Vec<String>) -> Value {
    let Value::Object(map) = bt else { return bt };
    let mut out = Map::new();
    for (name, v) in map {
        let binary = v.get("byteOffset").and_then(Value::as_u64);
        match (binary, &v) {
            (Some(at), Value::Object(_)) => {
                let comp = v.get("componentType").and_then(Value::as_str).unwrap_or("");
                let ty = v.get("type").and_then(Value::as_str).unwrap_or("SCALAR");
                let got = components(ty)
                    .ok_or_else(|| format!("type '{ty}' is not known"))
                    .and_then(|n| numbers(bin.get(at as usize..).unwrap_or(&[]), comp, n, count));
                match got {
                    Ok(values) => {
                        out.insert(name, Value::Array(values));
                    }
                    Err(e) => problems.push(format!("batch table property '{name}': {e}")),
                }
            }
            _ => {
                out.insert(name, v);
            }
        }
    }
    Value::Object(out)
}

/// Feature `id`'s properties in `attributes` (decoded batch tables and property tables), by
/// name: the first table that has a row for it.
pub fn feature_properties(attributes: &[Value], id: u32) -> Vec<(String, Value)> {
    let id = id as usize;
    for a in attributes {
        // A decoded EXT_structural_metadata.
        if let Some(tables) = a.get("decoded").and_then(Value::as_array) {
            for t in tables {
                if id < t.get("count").and_then(Value::as_u64).unwrap_or(0) as usize {
                    if let Some(p) = t.get("properties").and_then(Value::as_object) {
                        return p
                            .iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.get(id)?.clone())))
                            .collect();
                    }
                }
            }
            continue;
        }
        // A batch table: arrays by property.
        if let Some(map) = a.as_object() {
            let row: Vec<(String, Value)> = map
                .iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "extensions" | "extras" | "HIERARCHY" | "cim_problems")
                })
                .filter_map(|(k, v)| Some((k.clone(), v.as_array()?.get(id)?.clone())))
                .collect();
            if !row.is_empty() {
                return row;
            }
        }
    }
    Vec::new()
}
