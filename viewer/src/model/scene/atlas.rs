//! Texture atlases: the photo textures a building tile uses, packed into one image, so a tile
//! stays one mesh with one material (and a building keeps one vertex range for highlighting
//! and colouring). Untextured surfaces map to a white block in the same image.

use std::collections::BTreeMap;

/// Largest atlas side, pixels (every GPU takes 4096; 2048 keeps a tile's memory modest).
pub const MAX_SIDE: u32 = 2048;
/// Pixels of padding around each image (against bleeding at mip levels).
const PAD: u32 = 2;
/// Side of the white block untextured surfaces sample.
const WHITE: u32 = 4;

/// A decoded texture image: RGBA8, rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// One tile's atlas: the image and where each texture went (u0, v0, u1, v1 in atlas UVs,
/// v from the top).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Atlas {
    pub image: Option<Rgba>,
    pub rects: BTreeMap<i64, [f32; 4]>,
    /// The white block's centre.
    pub white: [f32; 2],
}

impl Atlas {
    /// Where the texture coordinate `uv` of texture `id` lands (CityGML/CityJSON coordinates:
    /// v up from the image's bottom, clamped to the image).
    pub fn map(&self, id: i64, uv: [f32; 2]) -> [f32; 2] {
        match self.rects.get(&id) {
            Some(r) => {
                let (u, v) = (uv[0].clamp(0.0, 1.0), uv[1].clamp(0.0, 1.0));
                [r[0] + u * (r[2] - r[0]), r[1] + (1.0 - v) * (r[3] - r[1])]
            }
            None => self.white,
        }
    }
}

/// Packs `textures` into one atlas, scaled down together so that it fits [`MAX_SIDE`]
/// (shelves, tallest first). `None` when there are none.
pub fn pack(textures: &BTreeMap<i64, &Rgba>) -> Option<Atlas> {
    if textures.is_empty() {
        return None;
    }
    let area: f64 = textures
        .values()
        .map(|t| f64::from(t.width) * f64::from(t.height))
        .sum();
    let mut scale = (0.6 * f64::from(MAX_SIDE).powi(2) / area.max(1.0))
        .sqrt()
        .min(1.0);
    for _ in 0..24 {
        if let Some(a) = try_pack(textures, scale) {
            return Some(a);
        }
        scale *= 0.85;
    }
    None
}

fn try_pack(textures: &BTreeMap<i64, &Rgba>, scale: f64) -> Option<Atlas> {
    let sized: Vec<(i64, u32, u32)> = textures
        .iter()
        .map(|(id, t)| {
            let w = ((f64::from(t.width) * scale).round() as u32).clamp(1, MAX_SIDE - 2 * PAD);
            let h = ((f64::from(t.height) * scale).round() as u32).clamp(1, MAX_SIDE - 2 * PAD);
            (*id, w, h)
        })
        .collect();
    let mut order: Vec<usize> = (0..sized.len()).collect();
    order.sort_by_key(|&k| (std::cmp::Reverse(sized[k].2), sized[k].0));
    // Shelves: (x, y) of each, after the white block in the first shelf.
    let (mut x, mut y, mut shelf_h) = (WHITE + 2 * PAD, 0u32, WHITE + 2 * PAD);
    let mut at: BTreeMap<i64, (u32, u32, u32, u32)> = BTreeMap::new();
    let mut width = x;
    for k in order {
        let (id, w, h) = sized[k];
        if x + w + 2 * PAD > MAX_SIDE {
            y += shelf_h;
            x = 0;
            shelf_h = 0;
        }
        at.insert(id, (x + PAD, y + PAD, w, h));
        x += w + 2 * PAD;
        width = width.max(x);
        shelf_h = shelf_h.max(h + 2 * PAD);
    }
    let height = y + shelf_h;
    if height > MAX_SIDE {
        return None;
    }
    let (width, height) = (
        width.next_power_of_two().min(MAX_SIDE),
        height.next_power_of_two().min(MAX_SIDE),
    );
    let mut pixels = vec![255u8; (width * height * 4) as usize];
    let mut rects = BTreeMap::new();
    for (id, (px, py, w, h)) in at {
        let src = textures[&id];
        let scaled = resize(src, w, h);
        // The image and its padding (edge pixels repeated).
        for yy in 0..h + 2 * PAD {
            for xx in 0..w + 2 * PAD {
                let sx = xx.saturating_sub(PAD).min(w - 1);
                let sy = yy.saturating_sub(PAD).min(h - 1);
                let (dx, dy) = (px + xx - PAD, py + yy - PAD);
                let d = ((dy * width + dx) * 4) as usize;
                let s = ((sy * w + sx) * 4) as usize;
                pixels[d..d + 4].copy_from_slice(&scaled[s..s + 4]);
            }
        }
        let (fw, fh) = (width as f32, height as f32);
        // Half a texel in, so clamped coordinates stay inside the image.
        rects.insert(
            id,
            [
                (px as f32 + 0.5) / fw,
                (py as f32 + 0.5) / fh,
                ((px + w) as f32 - 0.5) / fw,
                ((py + h) as f32 - 0.5) / fh,
            ],
        );
    }
    let c = (PAD + WHITE / 2) as f32;
    Some(Atlas {
        image: Some(Rgba {
            width,
            height,
            pixels,
        }),
        rects,
        white: [c / width as f32, c / height as f32],
    })
}

/// Box-filtered resize (down; nearest up), RGBA8.
fn resize(src: &Rgba, w: u32, h: u32) -> Vec<u8> {
    if (w, h) == (src.width, src.height) {
        return src.pixels.clone();
    }
    let mut out = vec![0u8; (w * h * 4) as usize];
    let (sx, sy) = (
        f64::from(src.width) / f64::from(w),
        f64::from(src.height) / f64::from(h),
    );
    for y in 0..h {
        let (y0, y1) = (
            (f64::from(y) * sy) as u32,
            (((f64::from(y) + 1.0) * sy) as u32).max((f64::from(y) * sy) as u32 + 1),
        );
        for x in 0..w {
            let (x0, x1) = (
                (f64::from(x) * sx) as u32,
                (((f64::from(x) + 1.0) * sx) as u32).max((f64::from(x) * sx) as u32 + 1),
            );
            let mut acc = [0u32; 4];
            let mut n = 0u32;
            for yy in y0..y1.min(src.height) {
                for xx in x0..x1.min(src.width) {
                    let s = ((yy * src.width + xx) * 4) as usize;
                    for (a, v) in acc.iter_mut().zip(&src.pixels[s..s + 4]) {
                        *a += u32::from(*v);
                    }
                    n += 1;
                }
            }
            let d = ((y * w + x) * 4) as usize;
            for (o, a) in out[d..d + 4].iter_mut().zip(acc) {
                *o = (a / n.max(1)) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, c: [u8; 4]) -> Rgba {
        Rgba {
            width: w,
            height: h,
            pixels: c.iter().copied().cycle().take((w * h * 4) as usize).collect(),
        }
    }

    #[test]
    fn textures_land_in_their_rects_and_untextured_surfaces_in_white() {
        let red = solid(64, 32, [255, 0, 0, 255]);
        let blue = solid(16, 16, [0, 0, 255, 255]);
        let textures = BTreeMap::from([(3, &red), (9, &blue)]);
        let a = pack(&textures).unwrap();
        let img = a.image.as_ref().unwrap();
        let sample = |uv: [f32; 2]| {
            let x = (uv[0] * img.width as f32) as u32;
            let y = (uv[1] * img.height as f32) as u32;
            let k = ((y * img.width + x) * 4) as usize;
            [img.pixels[k], img.pixels[k + 1], img.pixels[k + 2]]
        };
        for uv in [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0], [0.99, 0.01]] {
            assert_eq!(sample(a.map(3, uv)), [255, 0, 0]);
            assert_eq!(sample(a.map(9, uv)), [0, 0, 255]);
        }
        assert_eq!(sample(a.map(42, [0.5, 0.5])), [255, 255, 255]);
        assert!(img.width <= MAX_SIDE && img.height <= MAX_SIDE);
    }

    #[test]
    fn too_much_texture_is_scaled_down_to_fit() {
        let big = solid(1500, 1500, [0, 200, 0, 255]);
        let textures: BTreeMap<i64, &Rgba> = (0..6).map(|k| (k, &big)).collect();
        let a = pack(&textures).unwrap();
        let img = a.image.as_ref().unwrap();
        assert!(img.width <= MAX_SIDE && img.height <= MAX_SIDE);
        assert_eq!(a.rects.len(), 6);
    }
}
