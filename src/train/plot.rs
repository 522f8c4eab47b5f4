//! The loss curve as a PNG: training loss (light) and validation loss (dark)
//! against the step, with labelled axes.
//!
//! Drawn by hand on an RGB buffer (lines, a 3×5 pixel digit font) and saved
//! with the `png` crate: a plotting library would pull in font loading for
//! what is a few dozen lines here.

use std::path::Path;

use super::run::Metric;

const W: usize = 900;
const H: usize = 500;
const LEFT: usize = 70;
const RIGHT: usize = 20;
const TOP: usize = 20;
const BOTTOM: usize = 50;

struct Canvas {
    pixels: Vec<u8>,
}

impl Canvas {
    fn new() -> Self {
        Self { pixels: vec![255; W * H * 3] }
    }

    fn set(&mut self, x: i64, y: i64, color: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < W && (y as usize) < H {
            let i = (y as usize * W + x as usize) * 3;
            self.pixels[i..i + 3].copy_from_slice(&color);
        }
    }

    /// Bresenham's line.
    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), color: [u8; 3]) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, color);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Draws `text` (digits, '.', '-', 'k') with its top-left at (x, y), pixels scaled by 2.
    fn text(&mut self, x: i64, y: i64, text: &str, color: [u8; 3]) {
        for (i, ch) in text.chars().enumerate() {
            let glyph = glyph(ch);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            self.set(x + i as i64 * 8 + col * 2 + dx, y + row as i64 * 2 + dy, color);
                        }
                    }
                }
            }
        }
    }
}

/// 3×5 glyphs, one row per entry, high bit on the left.
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '.' => [0b000, 0b000, 0b000, 0b000, 0b010],
        '-' => [0b000, 0b000, 0b111, 0b000, 0b000],
        'k' => [0b100, 0b101, 0b110, 0b101, 0b101],
        _ => [0; 5],
    }
}

fn step_label(step: f64) -> String {
    if step >= 1000.0 && step % 1000.0 == 0.0 {
        format!("{}k", step as u64 / 1000)
    } else {
        format!("{}", step as u64)
    }
}

/// Writes the loss curve of `metrics` to `path` (atomically).
pub fn loss_curve(metrics: &[Metric], path: &Path) -> std::io::Result<()> {
    let train: Vec<(f64, f64)> = metrics.iter().filter_map(|m| m.loss.map(|l| (m.step as f64, l as f64))).collect();
    let val: Vec<(f64, f64)> = metrics.iter().filter_map(|m| m.val_loss.map(|l| (m.step as f64, l))).collect();
    let mut canvas = Canvas::new();
    let all = train.iter().chain(&val);
    let max_step = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    lo = (lo * 2.0).floor() / 2.0;
    hi = (hi * 2.0).ceil() / 2.0;
    if hi - lo < 0.5 {
        hi = lo + 0.5;
    }
    let (pw, ph) = ((W - LEFT - RIGHT) as f64, (H - TOP - BOTTOM) as f64);
    let to_px = |(s, l): (f64, f64)| -> (i64, i64) {
        (LEFT as i64 + (s / max_step * pw) as i64, TOP as i64 + ((hi - l) / (hi - lo) * ph) as i64)
    };
    let grid = [225, 225, 225];
    let ink = [60, 60, 60];
    // Horizontal grid lines with loss labels, every 0.5 (or 1.0 when crowded).
    let step_y = if hi - lo > 6.0 { 1.0 } else { 0.5 };
    let mut y = lo;
    while y <= hi + 1e-9 {
        let (_, py) = to_px((0.0, y));
        canvas.line((LEFT as i64, py), ((W - RIGHT) as i64, py), grid);
        canvas.text(8, py - 5, &format!("{y:.1}"), ink);
        y += step_y;
    }
    // Vertical grid lines with step labels at round numbers.
    let raw = max_step / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let tick = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|t| *t >= raw).unwrap_or(raw);
    let mut s = 0.0;
    while s <= max_step + 1e-9 {
        let (px, _) = to_px((s, lo));
        canvas.line((px, TOP as i64), (px, (H - BOTTOM) as i64), grid);
        canvas.text(px - 8, (H - BOTTOM + 12) as i64, &step_label(s), ink);
        s += tick;
    }
    canvas.line((LEFT as i64, TOP as i64), (LEFT as i64, (H - BOTTOM) as i64), ink);
    canvas.line((LEFT as i64, (H - BOTTOM) as i64), ((W - RIGHT) as i64, (H - BOTTOM) as i64), ink);
    for pair in train.windows(2) {
        canvas.line(to_px(pair[0]), to_px(pair[1]), [140, 180, 230]);
    }
    for pair in val.windows(2) {
        let (a, b) = (to_px(pair[0]), to_px(pair[1]));
        canvas.line(a, b, [200, 60, 40]);
        canvas.line((a.0, a.1 + 1), (b.0, b.1 + 1), [200, 60, 40]);
    }
    for &p in &val {
        let (x, y) = to_px(p);
        for dx in -2..=2 {
            for dy in -2..=2 {
                canvas.set(x + dx, y + dy, [200, 60, 40]);
            }
        }
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, W as u32, H as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .add_text_chunk("Title".into(), "fledge loss curve: training loss (blue), validation loss (red)".into())
            .map_err(std::io::Error::other)?;
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(&canvas.pixels).map_err(std::io::Error::other)?;
    }
    crate::fsutil::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let metrics: Vec<Metric> = (1..=50)
            .map(|s| Metric {
                step: s,
                tokens: s * 100,
                loss: Some(8.0 / (s as f32).sqrt()),
                lr: None,
                grad_norm: None,
                tokens_per_s: None,
                val_loss: (s % 10 == 0).then(|| 8.2 / (s as f64).sqrt()),
                val_bpb: None,
                val_sets: Default::default(),
            })
            .collect();
        let p = dir.path().join("loss.png");
        loss_curve(&metrics, &p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        loss_curve(&[], &p).unwrap();
    }
}
