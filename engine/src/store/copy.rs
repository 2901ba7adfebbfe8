//! A copy of a project, or of some of it: [`Project::export_copy`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use super::{FeatureFilter, LayerSpec, Project};
use crate::error::{EngineError, Result};
use crate::mesh::{Paint, Representation};
use crate::CityCode;

impl Project {
    /// Copies the features `filter` chooses into a new project at `out` (same CRS and region),
    /// with their 3-D geometry, the texture images it uses, and all terrain. Built beside `out`
    /// and renamed into place when complete (replacing `out`); on failure nothing is left.
    /// Returns how many features were copied.
    pub fn export_copy(&self, out: &Path, filter: &FeatureFilter) -> Result<usize> {
        let tmp = out.with_extension("gpkg.partial");
        if tmp.exists() {
            std::fs::remove_file(&tmp).ok();
        }
        let mut copy = Project::create(&tmp, self.crs(), self.region_code())?;
        let mut n = 0usize;
        let result = (|| -> Result<()> {
            let mut tx = copy.import()?;
            // Source texture id → the copy's.
            let mut textures: HashMap<i64, i64> = HashMap::new();
            for l in self.layers()? {
                if filter.layers.as_ref().is_some_and(|ls| !ls.contains(&l.name)) {
                    continue;
                }
                tx.ensure_layer(&LayerSpec {
                    name: l.name.clone(),
                    kind: l.kind,
                    classification: l.classification,
                    geometry_type: l.geometry_type,
                    fields: l.fields.clone(),
                    source: format!("{} (exported)", self.path().display()),
                })?;
                let f = FeatureFilter {
                    layers: Some(vec![l.name.clone()]),
                    ..filter.clone()
                };
                let mut codes = HashSet::new();
                self.for_each_feature(&f, |s| {
                    tx.write(&s.layer, &s.feature)?;
                    codes.insert(s.feature.code.to_string());
                    n += 1;
                    Ok(())
                })?;
                // Their 3-D geometry with them.
                let mut by_code: BTreeMap<String, Vec<Representation>> = BTreeMap::new();
                self.for_each_representation(&l.name, None, |code, rep| {
                    if codes.contains(code) {
                        by_code.entry(code.to_string()).or_default().push(rep);
                    }
                    Ok(())
                })?;
                for (code, mut reps) in by_code {
                    // Texture images go with the meshes that use them (ids are the copy's own).
                    for p in reps.iter_mut().flat_map(|r| r.paints.iter_mut()) {
                        if let Paint::Texture(id) = p {
                            let new_id = match textures.get(id) {
                                Some(k) => *k,
                                None => {
                                    let t = self.texture(*id)?.ok_or_else(|| EngineError::Geometry {
                                        reason: format!("{code}: texture image {id} is not in the project"),
                                    })?;
                                    let k = tx.put_texture(&t.name, &t.data)?;
                                    textures.insert(*id, k);
                                    k
                                }
                            };
                            *id = new_id;
                        }
                    }
                    tx.put_representations(&l.name, &CityCode::parse(&code)?, &reps)?;
                }
            }
            for t in self.terrains()? {
                tx.put_terrain(&t.name, &self.terrain(&t.name)?, &t.source)?;
            }
            tx.commit().map(|_| ())
        })();
        drop(copy);
        if let Err(e) = result {
            std::fs::remove_file(&tmp).ok();
            return Err(e);
        }
        let io = |source| EngineError::Io {
            path: out.to_path_buf(),
            source,
        };
        if out.exists() {
            std::fs::remove_file(out).map_err(io)?;
        }
        std::fs::rename(&tmp, out).map_err(io)?;
        Ok(n)
    }
}
