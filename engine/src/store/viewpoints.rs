//! Saved viewpoints (bookmarks) of the 3D viewer, stored with the project so a team shares them
//! and the command hall's camera tour can visit them. The table is created on the first save.

use super::{Project, SqlContext};
use crate::error::{EngineError, Result};
use rusqlite::params;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS cim_viewpoints (
  name TEXT NOT NULL PRIMARY KEY, x REAL NOT NULL, y REAL NOT NULL, z REAL NOT NULL,
  heading_deg REAL NOT NULL, tilt_deg REAL NOT NULL, distance_m REAL NOT NULL,
  position INTEGER NOT NULL, created TEXT NOT NULL)";

/// Where the viewer's camera looks from: the point looked at (project CRS), the heading
/// (degrees clockwise from north), the tilt below the horizon (degrees) and the distance (m).
#[derive(Clone, Debug, PartialEq)]
pub struct Viewpoint {
    pub name: String,
    pub focus: [f64; 3],
    pub heading_deg: f64,
    pub tilt_deg: f64,
    pub distance_m: f64,
}

impl Viewpoint {
    /// Checks the name and numbers: a clear error naming the viewpoint otherwise.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(EngineError::Viewpoint {
                name: self.name.clone(),
                reason: reason.to_string(),
            })
        };
        if self.name.trim().is_empty() {
            return bad("the name is empty");
        }
        if !self
            .focus
            .iter()
            .chain([self.heading_deg, self.tilt_deg, self.distance_m].iter())
            .all(|v| v.is_finite())
        {
            return bad("numbers must be finite");
        }
        if self.distance_m <= 0.0 {
            return bad("the distance must be positive");
        }
        if !(-90.0..=90.0).contains(&self.tilt_deg) {
            return bad("the tilt must be between -90 and 90 degrees");
        }
        Ok(())
    }
}

impl Project {
    /// Saves a viewpoint, replacing one of the same name (which keeps its place in the tour).
    pub fn save_viewpoint(&mut self, v: &Viewpoint) -> Result<()> {
        v.validate()?;
        let path = self.meta.path.clone();
        let tx = self.conn.transaction().ctx(&path)?;
        tx.execute_batch(TABLE).ctx(&path)?;
        tx.execute(
            "INSERT INTO cim_viewpoints (name, x, y, z, heading_deg, tilt_deg, distance_m, position, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,
                     (SELECT coalesce(max(position), 0) + 1 FROM cim_viewpoints), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
             ON CONFLICT (name) DO UPDATE SET x = excluded.x, y = excluded.y, z = excluded.z,
               heading_deg = excluded.heading_deg, tilt_deg = excluded.tilt_deg, distance_m = excluded.distance_m",
            params![v.name, v.focus[0], v.focus[1], v.focus[2], v.heading_deg, v.tilt_deg, v.distance_m],
        )
        .ctx(&path)?;
        tx.commit().ctx(&path)
    }

    fn has_viewpoints(&self) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cim_viewpoints')",
                [],
                |r| r.get(0),
            )
            .ctx(&self.meta.path)
    }

    /// Every saved viewpoint, in the order they were first saved (the tour's order).
    pub fn viewpoints(&self) -> Result<Vec<Viewpoint>> {
        if !self.has_viewpoints()? {
            return Ok(Vec::new());
        }
        let path = &self.meta.path;
        let mut stmt = self
            .conn
            .prepare("SELECT name, x, y, z, heading_deg, tilt_deg, distance_m FROM cim_viewpoints ORDER BY position")
            .ctx(path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Viewpoint {
                    name: r.get(0)?,
                    focus: [r.get(1)?, r.get(2)?, r.get(3)?],
                    heading_deg: r.get(4)?,
                    tilt_deg: r.get(5)?,
                    distance_m: r.get(6)?,
                })
            })
            .ctx(path)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().ctx(path)
    }

    /// The viewpoint of that name, if saved.
    pub fn viewpoint(&self, name: &str) -> Result<Option<Viewpoint>> {
        Ok(self.viewpoints()?.into_iter().find(|v| v.name == name))
    }

    /// Removes a viewpoint; `false` if there was none of that name.
    pub fn delete_viewpoint(&mut self, name: &str) -> Result<bool> {
        if !self.has_viewpoints()? {
            return Ok(false);
        }
        let path = self.meta.path.clone();
        let n = self
            .conn
            .execute("DELETE FROM cim_viewpoints WHERE name = ?1", [name])
            .ctx(&path)?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Crs;

    fn vp(name: &str, x: f64) -> Viewpoint {
        Viewpoint {
            name: name.into(),
            focus: [x, 2_500_000.0, 30.0],
            heading_deg: 45.0,
            tilt_deg: 40.0,
            distance_m: 800.0,
        }
    }

    #[test]
    fn viewpoints_round_trip_in_tour_order_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.cim.gpkg");
        let mut p = Project::create(&path, &Crs::parse("EPSG:4547").unwrap(), "440106").unwrap();
        assert!(p.viewpoints().unwrap().is_empty());
        assert!(!p.delete_viewpoint("x").unwrap());
        p.save_viewpoint(&vp("天河 CBD", 500_000.0)).unwrap();
        p.save_viewpoint(&vp("river", 501_000.0)).unwrap();
        // Replacing keeps the place in the tour.
        p.save_viewpoint(&vp("天河 CBD", 500_500.0)).unwrap();
        drop(p);
        let mut p = Project::open(&path).unwrap();
        let all = p.viewpoints().unwrap();
        assert_eq!(
            all.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
            ["天河 CBD", "river"]
        );
        assert_eq!(all[0].focus[0], 500_500.0);
        assert_eq!(p.viewpoint("river").unwrap(), Some(vp("river", 501_000.0)));
        assert!(p.delete_viewpoint("river").unwrap());
        assert_eq!(p.viewpoints().unwrap().len(), 1);
    }

    #[test]
    fn bad_viewpoints_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = Project::create(
            &dir.path().join("v.cim.gpkg"),
            &Crs::parse("EPSG:4547").unwrap(),
            "440106",
        )
        .unwrap();
        for (v, want) in [
            (
                Viewpoint {
                    distance_m: 0.0,
                    ..vp("a", 0.0)
                },
                "distance",
            ),
            (
                Viewpoint {
                    tilt_deg: 120.0,
                    ..vp("b", 0.0)
                },
                "tilt",
            ),
            (
                Viewpoint {
                    focus: [f64::NAN, 0.0, 0.0],
                    ..vp("c", 0.0)
                },
                "finite",
            ),
            (vp(" ", 0.0), "empty"),
        ] {
            let e = p.save_viewpoint(&v).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(&format!("'{}'", v.name)), "{e}");
        }
        assert!(p.viewpoints().unwrap().is_empty());
    }
}
