//! A digit drawn by hand, turned into an MNIST-like input the way MNIST's own images were made:
//! the ink's bounding box scaled into 20 × 20 keeping its aspect, then placed in 28 × 28 so its
//! centre of mass sits at the centre. The explorer page runs the same steps in JavaScript
//! (`src/render/assets/explore.js`, `drawnInput`); both follow this file's arithmetic step by
//! step, so the two agree to rounding.

/// Side of the drawing canvas, in its own units (pixels of the raster).
pub const CANVAS: usize = 280;
/// Half the pen's width, in canvas pixels.
pub const PEN_RADIUS: f64 = 12.0;
/// Side of MNIST's images, and of the box the ink is scaled into.
const SIDE: usize = 28;
const BOX: f64 = 20.0;

/// A pen stroke: the points it passed through, in canvas coordinates.
pub type Stroke = Vec<(f64, f64)>;

/// The ink of `strokes` on the canvas (`CANVAS x CANVAS`, row-major, 0..=1): full inside the
/// pen's radius of a stroke's polyline, fading to 0 over the pixel beyond it.
pub fn raster(strokes: &[Stroke]) -> Vec<f64> {
    let mut ink = vec![0.0; CANVAS * CANVAS];
    for (i, value) in ink.iter_mut().enumerate() {
        let (x, y) = ((i % CANVAS) as f64 + 0.5, (i / CANVAS) as f64 + 0.5);
        let distance = strokes
            .iter()
            .map(|s| stroke_distance(s, x, y))
            .fold(f64::INFINITY, f64::min);
        *value = (PEN_RADIUS + 0.5 - distance).clamp(0.0, 1.0);
    }
    ink
}

/// Distance from (x, y) to a polyline (a single point where it has one).
fn stroke_distance(stroke: &[(f64, f64)], x: f64, y: f64) -> f64 {
    match stroke {
        [] => f64::INFINITY,
        [(px, py)] => ((x - px).powi(2) + (y - py).powi(2)).sqrt(),
        _ => stroke
            .windows(2)
            .map(|w| segment_distance(w[0], w[1], x, y))
            .fold(f64::INFINITY, f64::min),
    }
}

fn segment_distance((ax, ay): (f64, f64), (bx, by): (f64, f64), x: f64, y: f64) -> f64 {
    let (dx, dy) = (bx - ax, by - ay);
    let length2 = dx * dx + dy * dy;
    let t = if length2 > 0.0 {
        (((x - ax) * dx + (y - ay) * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (ax + t * dx, ay + t * dy);
    ((x - cx).powi(2) + (y - cy).powi(2)).sqrt()
}

/// The 28 × 28 input (row-major, 0..=1, as `f32` like the data set's) for a drawing; all zero
/// for an empty one.
pub fn drawn_input(strokes: &[Stroke]) -> Vec<f32> {
    let ink = raster(strokes);
    let mut out = vec![0.0f32; SIDE * SIDE];
    let Some((x0, y0, x1, y1)) = bounding_box(&ink) else {
        return out;
    };
    let scale = BOX / ((x1 - x0 + 1).max(y1 - y0 + 1) as f64);
    let boxed = scaled_box(&ink, (x0, y0, x1, y1), scale);
    let (ox, oy) = centring_offset(&boxed);
    for (i, &v) in boxed.iter().enumerate() {
        let (r, c) = (i / BOX as usize + oy, i % BOX as usize + ox);
        out[r * SIDE + c] = v as f32;
    }
    out
}

/// The inclusive bounds (x0, y0, x1, y1) of the inked pixels.
fn bounding_box(ink: &[f64]) -> Option<(usize, usize, usize, usize)> {
    let mut bounds: Option<(usize, usize, usize, usize)> = None;
    for (i, _) in ink.iter().enumerate().filter(|(_, v)| **v > 0.0) {
        let (x, y) = (i % CANVAS, i / CANVAS);
        bounds = Some(match bounds {
            None => (x, y, x, y),
            Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
        });
    }
    bounds
}

/// The box's ink averaged onto a 20 × 20 grid, `scale` grid cells per canvas pixel: each cell
/// is the mean of the canvas over the square it covers (cells past the box's end get 0).
fn scaled_box(ink: &[f64], (x0, y0, x1, y1): (usize, usize, usize, usize), scale: f64) -> Vec<f64> {
    let cells = BOX as usize;
    // Overlap of cell k's span with canvas pixel p, along one axis starting at `origin`.
    let overlaps = |origin: usize, end: usize| -> Vec<Vec<(usize, f64)>> {
        (0..cells)
            .map(|k| {
                let (a, b) = (
                    origin as f64 + k as f64 / scale,
                    origin as f64 + (k + 1) as f64 / scale,
                );
                (origin..=end)
                    .filter_map(|p| {
                        let w = b.min(p as f64 + 1.0) - a.max(p as f64);
                        (w > 0.0).then_some((p, w))
                    })
                    .collect()
            })
            .collect()
    };
    let (columns, rows) = (overlaps(x0, x1), overlaps(y0, y1));
    let mut out = vec![0.0; cells * cells];
    for (r, row_weights) in rows.iter().enumerate() {
        for (c, column_weights) in columns.iter().enumerate() {
            let mut sum = 0.0;
            for &(y, wy) in row_weights {
                for &(x, wx) in column_weights {
                    sum += wy * wx * ink[y * CANVAS + x];
                }
            }
            out[r * cells + c] = sum * scale * scale;
        }
    }
    out
}

/// Where to put the 20 × 20 box in 28 × 28 so that its centre of mass lands nearest the
/// centre, keeping the ink (which starts at the box's top left corner) whole inside.
fn centring_offset(boxed: &[f64]) -> (usize, usize) {
    let cells = BOX as usize;
    let (mut mass, mut mx, mut my) = (0.0, 0.0, 0.0);
    let (mut width, mut height) = (0, 0);
    for (i, &v) in boxed.iter().enumerate().filter(|(_, v)| **v > 0.0) {
        let (c, r) = (i % cells, i / cells);
        mass += v;
        mx += v * (c as f64 + 0.5);
        my += v * (r as f64 + 0.5);
        (width, height) = (width.max(c + 1), height.max(r + 1));
    }
    let offset = |centre: f64, extent: usize| {
        (SIDE as f64 / 2.0 - centre)
            .round()
            .clamp(0.0, (SIDE - extent) as f64) as usize
    };
    if mass > 0.0 {
        (offset(mx / mass, width), offset(my / mass, height))
    } else {
        (4, 4)
    }
}
