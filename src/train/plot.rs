//! Line charts as PNG: the loss curve (training loss light, validation loss
//! dark, against the step) and the ablation's validation curves side by side.
//!
//! Drawn by hand on an RGB buffer (lines, a 3×5 pixel font of digits and
//! capital letters, enough for tick values and axis labels) and saved
//! with the `png` crate: a plotting library would pull in font loading for
//! what is a few dozen lines here.

use std::path::Path;

use super::run::Metric;

const W: usize = 900;
const H: usize = 500;
const LEFT: usize = 70;
const RIGHT: usize = 20;
const TOP: usize = 36;
const BOTTOM: usize = 60;

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

    /// Draws `text` (see [`glyph`]) with its top-left at (x, y), pixels scaled by 2.
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
        '(' => [0b001, 0b010, 0b010, 0b010, 0b001],
        ')' => [0b100, 0b010, 0b010, 0b010, 0b100],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        // Capitals for axis labels (lower-case letters are drawn as capitals).
        'a' | 'A' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'B' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'c' | 'C' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'd' | 'D' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'e' | 'E' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'f' | 'F' => [0b111, 0b100, 0b110, 0b100, 0b100],
        'g' | 'G' => [0b011, 0b100, 0b101, 0b101, 0b011],
        'h' | 'H' => [0b101, 0b101, 0b111, 0b101, 0b101],
        'i' | 'I' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'j' | 'J' => [0b001, 0b001, 0b001, 0b101, 0b010],
        'K' => [0b101, 0b101, 0b110, 0b101, 0b101],
        'l' | 'L' => [0b100, 0b100, 0b100, 0b100, 0b111],
        'm' | 'M' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'n' | 'N' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'o' | 'O' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'p' | 'P' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'q' | 'Q' => [0b010, 0b101, 0b101, 0b110, 0b011],
        'r' | 'R' => [0b110, 0b101, 0b110, 0b101, 0b101],
        's' | 'S' => [0b011, 0b100, 0b010, 0b001, 0b110],
        't' | 'T' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'u' | 'U' => [0b101, 0b101, 0b101, 0b101, 0b111],
        'v' | 'V' => [0b101, 0b101, 0b101, 0b101, 0b010],
        'w' | 'W' => [0b101, 0b101, 0b111, 0b111, 0b101],
        'x' | 'X' => [0b101, 0b101, 0b010, 0b101, 0b101],
        'y' | 'Y' => [0b101, 0b101, 0b010, 0b010, 0b010],
        'z' | 'Z' => [0b111, 0b001, 0b010, 0b100, 0b111],
        _ => [0; 5],
    }
}

/// An axis label: "2k" for round thousands, "2.5" where the tick is fractional.
fn tick_label(v: f64, tick: f64) -> String {
    if v >= 1000.0 && v % 1000.0 == 0.0 {
        format!("{}k", v as u64 / 1000)
    } else if tick < 1.0 {
        let decimals = (-tick.log10()).ceil() as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{}", v as u64)
    }
}

/// A round tick spacing (1, 2 or 5 times a power of ten) giving about `n`
/// intervals over `span`.
fn nice_tick(span: f64, n: f64) -> f64 {
    let raw = span / n;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|t| *t >= raw).unwrap_or(raw)
}

/// One line of a chart.
pub struct Series {
    pub points: Vec<(f64, f64)>,
    pub color: [u8; 3],
    /// Drawn two pixels thick with a dot at each point (the measured values).
    pub marked: bool,
}

/// What the axes measure, written beside them.
#[derive(Debug, Clone, Copy)]
pub struct AxisLabels<'a> {
    /// Under the horizontal axis, e.g. "step".
    pub x: &'a str,
    /// Above the vertical axis, e.g. "loss (nats/token)".
    pub y: &'a str,
}

/// Draws `series` on shared axes (x from 0, y fitted to round ticks), each
/// axis labelled, and writes the PNG to `path` atomically; `title` goes into
/// its text chunk.
pub fn line_chart(series: &[Series], labels: AxisLabels, title: &str, path: &Path) -> std::io::Result<()> {
    let canvas = draw(series, labels);
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, W as u32, H as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.add_text_chunk("Title".into(), title.into()).map_err(std::io::Error::other)?;
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(&canvas.pixels).map_err(std::io::Error::other)?;
    }
    crate::fsutil::write_atomic(path, &bytes)
}

/// The chart's pixels.
fn draw(series: &[Series], labels: AxisLabels) -> Canvas {
    let mut canvas = Canvas::new();
    let all = || series.iter().flat_map(|s| s.points.iter());
    let max_x = all().map(|p| p.0).fold(0.0, f64::max);
    let max_x = if max_x > 0.0 { max_x } else { 1.0 };
    let (mut lo, mut hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let step_y = nice_tick((hi - lo).max(1e-3), 6.0);
    lo = (lo / step_y).floor() * step_y;
    hi = (hi / step_y).ceil() * step_y;
    if hi - lo < step_y {
        hi = lo + step_y;
    }
    let (pw, ph) = ((W - LEFT - RIGHT) as f64, (H - TOP - BOTTOM) as f64);
    let to_px = |(x, y): (f64, f64)| -> (i64, i64) {
        (LEFT as i64 + (x / max_x * pw) as i64, TOP as i64 + ((hi - y) / (hi - lo) * ph) as i64)
    };
    let grid = [225, 225, 225];
    let ink = [60, 60, 60];
    let mut y = lo;
    while y <= hi + 1e-9 {
        let (_, py) = to_px((0.0, y));
        canvas.line((LEFT as i64, py), ((W - RIGHT) as i64, py), grid);
        canvas.text(8, py - 5, &tick_label(y, step_y.min(0.1)), ink);
        y += step_y;
    }
    let tick = nice_tick(max_x, 6.0);
    let mut x = 0.0;
    while x <= max_x + 1e-9 {
        let (px, _) = to_px((x, lo));
        canvas.line((px, TOP as i64), (px, (H - BOTTOM) as i64), grid);
        canvas.text(px - 8, (H - BOTTOM + 12) as i64, &tick_label(x, tick), ink);
        x += tick;
    }
    canvas.line((LEFT as i64, TOP as i64), (LEFT as i64, (H - BOTTOM) as i64), ink);
    canvas.line((LEFT as i64, (H - BOTTOM) as i64), ((W - RIGHT) as i64, (H - BOTTOM) as i64), ink);
    // The x label centred under the tick values, the y label over its axis
    // (the font has no rotated letters). A glyph is 8 pixels wide.
    let x_label_width = labels.x.chars().count() as i64 * 8;
    canvas.text((LEFT + (W - LEFT - RIGHT) / 2) as i64 - x_label_width / 2, (H - BOTTOM + 34) as i64, labels.x, ink);
    canvas.text(8, 10, labels.y, ink);
    // Unmarked lines first, so measured points stay on top.
    let mut order: Vec<&Series> = series.iter().collect();
    order.sort_by_key(|s| s.marked);
    for s in order {
        for pair in s.points.windows(2) {
            let (a, b) = (to_px(pair[0]), to_px(pair[1]));
            canvas.line(a, b, s.color);
            if s.marked {
                canvas.line((a.0, a.1 + 1), (b.0, b.1 + 1), s.color);
            }
        }
        if s.marked {
            for &p in &s.points {
                let (x, y) = to_px(p);
                for dx in -2..=2 {
                    for dy in -2..=2 {
                        canvas.set(x + dx, y + dy, s.color);
                    }
                }
            }
        }
    }
    canvas
}

/// The loss curve's axes.
pub const LOSS_AXES: AxisLabels<'static> = AxisLabels { x: "step", y: "loss (nats/token)" };

/// Colors for several series on one chart, told apart at a glance.
pub const PALETTE: [[u8; 3]; 6] =
    [[200, 60, 40], [40, 100, 200], [40, 150, 60], [150, 60, 170], [220, 140, 20], [90, 90, 90]];

/// What [`PALETTE`]'s colors are called, in order, for a legend in words
/// (the chart's font has digits only).
pub const PALETTE_NAMES: [&str; 6] = ["red", "blue", "green", "purple", "orange", "grey"];

/// Writes the loss curve of `metrics` to `path` (atomically): training loss
/// in light blue, validation loss in red with a dot per evaluation, against
/// the step.
pub fn loss_curve(metrics: &[Metric], path: &Path) -> std::io::Result<()> {
    let train = metrics.iter().filter_map(|m| m.loss.map(|l| (m.step as f64, l as f64))).collect();
    let val = metrics.iter().filter_map(|m| m.val_loss.map(|l| (m.step as f64, l))).collect();
    line_chart(
        &[
            Series { points: train, color: [140, 180, 230], marked: false },
            Series { points: val, color: PALETTE[0], marked: true },
        ],
        LOSS_AXES,
        "fledge loss curve: training loss (blue), validation loss (red)",
        path,
    )
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

    /// Pixels that are not white inside a rectangle.
    fn inked(canvas: &Canvas, x0: usize, y0: usize, x1: usize, y1: usize) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (y * W + x) * 3))
            .filter(|&i| canvas.pixels[i..i + 3] != [255, 255, 255])
            .count()
    }

    #[test]
    fn both_axes_are_labelled() {
        let series = [Series { points: vec![(0.0, 3.0), (100.0, 2.0)], color: PALETTE[0], marked: false }];
        let unlabelled = draw(&series, AxisLabels { x: "", y: "" });
        let labelled = draw(&series, LOSS_AXES);
        // Under the x tick values, and above the plot area on the left.
        let x_band = (LEFT, H - BOTTOM + 30, W - RIGHT, H);
        let y_band = (0, 0, W / 2, TOP - 6);
        for (x0, y0, x1, y1) in [x_band, y_band] {
            assert_eq!(inked(&unlabelled, x0, y0, x1, y1), 0, "nothing drawn there without labels");
            assert!(inked(&labelled, x0, y0, x1, y1) > 50, "the label is drawn in {:?}", (x0, y0, x1, y1));
        }
        // Every letter of the labels has a glyph (a blank one would draw nothing).
        for c in LOSS_AXES.x.chars().chain(LOSS_AXES.y.chars()).filter(|c| *c != ' ') {
            assert_ne!(glyph(c), [0; 5], "no glyph for {c:?}");
        }
    }

    #[test]
    fn ticks_are_round_and_labelled_with_the_decimals_they_need() {
        assert_eq!(nice_tick(20.0, 6.0), 5.0);
        assert_eq!(nice_tick(0.7, 6.0), 0.2);
        assert_eq!(nice_tick(4883.0, 6.0), 1000.0);
        assert_eq!(tick_label(2000.0, 1000.0), "2k");
        assert_eq!(tick_label(15.0, 5.0), "15");
        assert_eq!(tick_label(0.9, 0.1), "0.9");
        assert_eq!(tick_label(1.25, 0.05), "1.25");
    }
}
