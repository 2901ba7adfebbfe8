//! One module per subcommand.

pub mod demo;
pub mod export;
pub mod import;
pub mod info;
pub mod layer;
pub mod new;
pub mod pick;
pub mod query;
pub mod run;
pub mod runs;
pub mod view;

use anyhow::{Context, Result};
use cim_engine::{Date, Project};
use std::path::Path;

/// Opens a project, naming the path in the error.
pub fn open_project(path: &Path) -> Result<Project> {
    let project = Project::open(path).context("cannot open project")?;
    for n in project.notices() {
        eprintln!("warning: {}: {n}", path.display());
    }
    Ok(project)
}

/// Parses an optional `YYYY-MM-DD` argument.
pub fn parse_date(text: &Option<String>) -> Result<Option<Date>> {
    text.as_deref().map(Date::parse).transpose().map_err(Into::into)
}
