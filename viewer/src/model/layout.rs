//! Where the window's panels go, for any screen from 1280×720 to 7680×4320 (a command hall's
//! wall): the layers panel in a left column under the north arrow, the feature panel (and in
//! the hall the dashboard under it) in a right column, the playback at the bottom between the
//! columns, and the city in the middle. Plain maths, no Bevy: the panels ask it each frame for
//! the region they may fill, and a test lays it out at many sizes and checks that no two
//! regions overlap.
//!
//! Sizes are in egui points (logical pixels divided by the UI zoom). In the hall the zoom
//! follows the screen ([`hall_zoom`]), so the panels are as readable on a wall of 8K as on a
//! 1080p screen.

/// A rectangle in points: top-left corner, width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Region {
    pub fn right(&self) -> f32 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }
    /// Whether the two share any area (touching edges do not count).
    pub fn overlaps(&self, o: &Region) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }
    /// Whether `o` lies wholly inside.
    pub fn contains(&self, o: &Region) -> bool {
        o.x >= self.x
            && o.y >= self.y
            && o.right() <= self.right() + 1e-3
            && o.bottom() <= self.bottom() + 1e-3
    }
}

/// The regions of one frame's panels. A panel is as large as its content up to its region,
/// and scrolls beyond it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PanelLayout {
    pub screen: Region,
    pub layers: Region,
    pub feature: Region,
    /// The hall's dashboard (KPIs and alerts), under the feature panel.
    pub dashboard: Option<Region>,
    /// The playback of a run, bottom centre.
    pub playback: Option<Region>,
    /// What the north arrow (top left), the help line (bottom left) and the scale bar (bottom
    /// right) take.
    pub north_arrow: Region,
    pub bottom_strip: Region,
    /// The middle, where the city shows whatever the panels hold.
    pub city: Region,
}

/// Space around and between panels, points.
const GAP: f32 = 8.0;
/// The north arrow's corner (12 + 44 points) and a gap.
const TOP_LEFT: f32 = 64.0;
/// The help line and the scale bar along the bottom.
const BOTTOM: f32 = 40.0;

/// The UI zoom of the command hall on a screen of `width_px` × `height_px` logical pixels:
/// 1.25 at 1920×1080, growing with the screen (2.5 at 3840×2160, 4 at 7680×4320), never
/// below 1.
pub fn hall_zoom(width_px: f32, height_px: f32) -> f32 {
    let s = (width_px / 1920.0).min(height_px / 1080.0);
    (1.25 * s).clamp(1.0, 4.0)
}

/// The panels' regions on a screen of `width` × `height` points.
pub fn layout(width: f32, height: f32, hall: bool, playback: bool) -> PanelLayout {
    let (w, h) = (width.max(320.0), height.max(240.0));
    let screen = Region { x: 0.0, y: 0.0, w, h };
    // Side columns: a fifth of the width each, readable, never more than a quarter.
    let column = (w * 0.2).clamp(200.0_f32.min(w * 0.25), 380.0);
    let usable_bottom = h - BOTTOM;
    let layers = Region {
        x: GAP,
        y: TOP_LEFT,
        w: column,
        h: (usable_bottom - TOP_LEFT - GAP).max(0.0),
    };
    let right_x = w - GAP - column;
    let right_h = usable_bottom - 2.0 * GAP;
    let (feature, dashboard) = if hall {
        let fh = (right_h * 0.42).floor();
        (
            Region {
                x: right_x,
                y: GAP,
                w: column,
                h: fh,
            },
            Some(Region {
                x: right_x,
                y: GAP + fh + GAP,
                w: column,
                h: right_h - fh - GAP,
            }),
        )
    } else {
        (
            Region {
                x: right_x,
                y: GAP,
                w: column,
                h: right_h,
            },
            None,
        )
    };
    let middle_x = GAP + column + GAP;
    let middle_w = right_x - GAP - middle_x;
    let playback = playback.then(|| {
        let pw = middle_w.min(680.0);
        let ph = (h * 0.32).clamp(150.0, 340.0).min(usable_bottom - 2.0 * GAP);
        Region {
            x: middle_x + (middle_w - pw) / 2.0,
            y: usable_bottom - ph,
            w: pw,
            h: ph,
        }
    });
    let city_bottom = playback.map_or(usable_bottom, |p| p.y - GAP);
    PanelLayout {
        screen,
        layers,
        feature,
        dashboard,
        playback,
        north_arrow: Region {
            x: 0.0,
            y: 0.0,
            w: TOP_LEFT,
            h: TOP_LEFT,
        },
        bottom_strip: Region {
            x: 0.0,
            y: usable_bottom,
            w,
            h: BOTTOM,
        },
        city: Region {
            x: middle_x,
            y: GAP,
            w: middle_w,
            h: city_bottom - GAP,
        },
    }
}

impl PanelLayout {
    /// Every panel's region with its name.
    pub fn panels(&self) -> Vec<(&'static str, Region)> {
        let mut v = vec![("layers", self.layers), ("feature", self.feature)];
        v.extend(self.dashboard.map(|d| ("dashboard", d)));
        v.extend(self.playback.map(|p| ("playback", p)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_two_panels_overlap_on_any_screen() {
        let screens = [
            (1280.0, 720.0),
            (1366.0, 768.0),
            (1920.0, 1080.0),
            (2560.0, 1440.0),
            (3840.0, 2160.0),
            (5760.0, 1080.0), // three screens side by side
            (7680.0, 4320.0),
        ];
        for (px_w, px_h) in screens {
            for hall in [false, true] {
                for playback in [false, true] {
                    let zoom = if hall { hall_zoom(px_w, px_h) } else { 1.0 };
                    let l = layout(px_w / zoom, px_h / zoom, hall, playback);
                    let what = format!("{px_w}×{px_h} hall {hall} playback {playback}: {l:?}");
                    let mut all = l.panels();
                    all.push(("north arrow", l.north_arrow));
                    all.push(("bottom strip", l.bottom_strip));
                    all.push(("city", l.city));
                    for (i, (a, ra)) in all.iter().enumerate() {
                        assert!(l.screen.contains(ra), "{a} off screen: {what}");
                        assert!(ra.w > 0.0 && ra.h > 0.0, "{a} empty: {what}");
                        for (b, rb) in &all[i + 1..] {
                            assert!(!ra.overlaps(rb), "{a} overlaps {b}: {what}");
                        }
                    }
                    // The city keeps the middle: over half the width, and most of the height.
                    assert!(l.city.w >= 0.5 * l.screen.w, "{what}");
                    assert!(l.city.h >= 0.45 * l.screen.h, "{what}");
                    assert_eq!(l.dashboard.is_some(), hall);
                }
            }
        }
    }

    #[test]
    fn the_hall_zoom_follows_the_screen() {
        assert_eq!(hall_zoom(1280.0, 720.0), 1.0);
        assert_eq!(hall_zoom(1920.0, 1080.0), 1.25);
        assert_eq!(hall_zoom(3840.0, 2160.0), 2.5);
        assert_eq!(hall_zoom(7680.0, 4320.0), 4.0);
        // Text stays the same share of the screen from 1080p to 4K.
        let l1 = layout(1920.0 / 1.25, 1080.0 / 1.25, true, true);
        let l4 = layout(3840.0 / 2.5, 2160.0 / 2.5, true, true);
        assert_eq!(l1, l4);
    }
}
