//! The viewer as one plugin group. [`ViewerPlugins::window`] is everything the window has;
//! [`ViewerPlugins::offscreen`] is the same group without the plugins that need a window or a
//! person at it (fly mode, bookmarks and tours, the overlays and panels), for `cim render`.
//! Each plugin owns its state and systems; what several read is in [`crate::state`], and
//! [`crate::state::ViewerSystems`] orders the frame.

use bevy::app::PluginGroupBuilder;
use bevy::prelude::*;

use crate::buildings::BuildingsPlugin;
use crate::camera::CameraPlugin;
use crate::fly::FlyPlugin;
use crate::input::InputPlugin;
use crate::layers::LayersPlugin;
use crate::pick::PickPlugin;
use crate::playback::water::WaterPlugin;
use crate::playback::PlaybackPlugin;
use crate::terrain::TerrainPlugin;
use crate::tilesets::TilesetsPlugin;
use crate::traffic::TrafficPlugin;
use crate::ui::panels::PanelsPlugin;
use crate::ui::UiPlugin;
use crate::views::ViewsPlugin;

/// Every plugin of the viewer, in the order they are added.
pub struct ViewerPlugins {
    /// The water shimmers (in the window) or stands still (in an image).
    pub animate_water: bool,
}

impl ViewerPlugins {
    /// What the window has.
    pub fn window() -> PluginGroupBuilder {
        ViewerPlugins { animate_water: true }.build()
    }

    /// What an offscreen image needs: the window-only plugins disabled.
    pub fn offscreen() -> PluginGroupBuilder {
        ViewerPlugins { animate_water: false }
            .build()
            .disable::<FlyPlugin>()
            .disable::<ViewsPlugin>()
            .disable::<UiPlugin>()
            .disable::<PanelsPlugin>()
    }
}

impl PluginGroup for ViewerPlugins {
    fn build(self) -> PluginGroupBuilder {
        PluginGroupBuilder::start::<Self>()
            .add(InputPlugin)
            .add(CameraPlugin)
            .add(TerrainPlugin)
            .add(BuildingsPlugin)
            .add(TilesetsPlugin)
            .add(LayersPlugin)
            .add(WaterPlugin {
                animate: self.animate_water,
            })
            .add(PlaybackPlugin)
            .add(TrafficPlugin)
            .add(PickPlugin)
            .add(FlyPlugin)
            .add(ViewsPlugin)
            .add(UiPlugin)
            .add(PanelsPlugin)
    }
}
