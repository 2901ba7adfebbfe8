//! `cim layer rm|rename`: project housekeeping for layers.

use super::open_project;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args)]
pub struct LayerArgs {
    #[command(subcommand)]
    pub action: LayerAction,
}

#[derive(Subcommand)]
pub enum LayerAction {
    /// Remove a layer with its features, city codes and index.
    Rm {
        project: PathBuf,
        layer: String,
        #[arg(long)]
        json: bool,
    },
    /// Rename a layer (its features keep their city codes).
    Rename {
        project: PathBuf,
        layer: String,
        new_name: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(a: LayerArgs) -> Result<()> {
    match a.action {
        LayerAction::Rm { project, layer, json } => {
            let mut p = open_project(&project)?;
            let n = p.remove_layer(&layer)?;
            if json {
                println!("{}", serde_json::json!({"removed": layer, "features": n}));
            } else {
                println!("removed layer '{layer}' ({n} features)");
            }
        }
        LayerAction::Rename {
            project,
            layer,
            new_name,
            json,
        } => {
            let mut p = open_project(&project)?;
            p.rename_layer(&layer, &new_name)?;
            if json {
                println!("{}", serde_json::json!({"renamed": layer, "to": new_name}));
            } else {
                println!("renamed layer '{layer}' to '{new_name}'");
            }
        }
    }
    Ok(())
}
