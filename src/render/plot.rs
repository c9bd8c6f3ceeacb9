//! Figures drawn with plotters, each saved as PNG and SVG. Text uses the bundled DejaVu Sans
//! through plotters' `ab_glyph`, so no system font library is needed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::store::write_atomic;

pub(crate) const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
            .map_err(|_| ())
            .expect("the bundled font is a valid TTF");
    });
}

pub(crate) type PlotResult = Result<()>;

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// A figure that can be drawn on either of the backends a figure is saved with.
pub trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: Canvas>(&self, root: &DrawingArea<DB, Shift>) -> PlotResult;
}

/// A backend figures are saved with, and how it best takes an image's cells.
pub trait Canvas: DrawingBackend {
    /// One embedded bitmap per image rather than a filled rectangle per cell: in SVG, the
    /// first layer's 100,352 weights made 8.7 MB of `<rect>` elements and a quarter of a
    /// second of writing them.
    const CELLS_AS_BITMAP: bool;
}

impl Canvas for BitMapBackend<'_> {
    const CELLS_AS_BITMAP: bool = false;
}

impl Canvas for SVGBackend<'_> {
    const CELLS_AS_BITMAP: bool = true;
}

/// plotters writes an embedded bitmap as `data:png`, which is no media type; browsers and
/// editors expect `image/png`. Its pixels are the cells scaled up already, kept sharp when the
/// drawing is zoomed.
fn with_standard_images(svg: String) -> String {
    svg.replace(
        "href=\"data:png;base64,",
        "style=\"image-rendering:pixelated\" href=\"data:image/png;base64,",
    )
}

/// Renders `figure` to `<dir>/<name>.png` and `<dir>/<name>.svg`, each written under a
/// temporary name first.
pub(crate) fn save<F: Figure>(figure: &F, dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
    register_font();
    let size = figure.size();
    let png = dir.join(format!("{name}.png"));
    let tmp = tempfile::Builder::new()
        .suffix(".png")
        .tempfile_in(dir)
        .map_err(|e| anyhow!("cannot write in {}: {e}", dir.display()))?;
    {
        let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        figure.draw(&root)?;
        root.present().map_err(err)?;
    }
    // Flushed to disk before the rename, as `write_atomic` does, so a power cut leaves the
    // old figure or the new one.
    tmp.as_file()
        .sync_all()
        .and_then(|()| crate::store::atomic::make_readable(&tmp))
        .map_err(|e| anyhow!("cannot write {}: {e}", png.display()))?;
    crate::core::hold::before_replacing(&png);
    tmp.persist(&png)
        .map_err(|e| anyhow!("cannot write {}: {}", png.display(), e.error))?;
    let svg = dir.join(format!("{name}.svg"));
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        figure.draw(&root)?;
        root.present().map_err(err)?;
    }
    write_atomic(&svg, with_standard_images(text).as_bytes())?;
    Ok(vec![png, svg])
}

/// How values become colours.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scale {
    /// matplotlib's default, from `min` to `max`.
    Viridis { min: f32, max: f32 },
    /// Blue below zero, red above, symmetric limits `±limit`.
    Diverging { limit: f32 },
}

impl Scale {
    /// Viridis over the data's own min..max, as matplotlib's `imshow` scales each panel.
    pub(crate) fn viridis_of(values: &[f32]) -> Self {
        let (min, max) = min_max(values);
        Scale::Viridis { min, max }
    }

    /// Diverging, centred at 0, limits at the largest magnitude.
    pub(crate) fn diverging_of(values: &[f32]) -> Self {
        Self::diverging_at_quantile(values, 1.0)
    }

    /// Diverging, with limits at the `q` quantile of the magnitudes, so a few extreme values
    /// do not wash out the rest; larger values saturate.
    pub(crate) fn diverging_at_quantile(values: &[f32], q: f64) -> Self {
        let mut mags: Vec<f32> = values
            .iter()
            .map(|v| v.abs())
            .filter(|v| v.is_finite())
            .collect();
        mags.sort_by(f32::total_cmp);
        let limit = if mags.is_empty() {
            0.0
        } else {
            mags[((mags.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize]
        };
        Scale::Diverging {
            limit: if limit > 0.0 { limit } else { 1.0 },
        }
    }

    pub fn range(&self) -> (f32, f32) {
        match *self {
            Scale::Viridis { min, max } => (min, max),
            Scale::Diverging { limit } => (-limit, limit),
        }
    }

    /// Where a figure leaves a cell out on purpose (a NaN): a pixel no data set inks.
    pub(crate) const LEFT_OUT: RGBColor = RGBColor(200, 200, 200);

    pub(crate) fn color(&self, v: f32) -> RGBColor {
        if v.is_nan() {
            return Self::LEFT_OUT;
        }
        let (lo, hi) = self.range();
        let t = if hi > lo {
            ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        match self {
            Scale::Viridis { .. } => ViridisRGB::get_color(t),
            Scale::Diverging { .. } => {
                // colorous's RdBu runs red to blue; flip it so positive weights are red.
                let c = colorous::RED_BLUE.eval_continuous(1.0 - f64::from(t));
                RGBColor(c.r, c.g, c.b)
            }
        }
    }
}

pub(crate) fn min_max(values: &[f32]) -> (f32, f32) {
    let (lo, hi) = values
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if lo.is_finite() && hi.is_finite() {
        (lo, hi)
    } else {
        (0.0, 1.0)
    }
}

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// A `rows x cols` image of `values` (row-major) with a title, axes and a colour bar.
pub(crate) struct Heatmap<'a> {
    pub values: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub title: String,
    pub scale: Scale,
    pub x_label: &'a str,
    pub y_label: &'a str,
    /// Print each cell's value (for small matrices).
    pub annotate: bool,
    /// Keep cells square (images) rather than filling the area.
    pub square_cells: bool,
    /// Values per cell, interleaved: 3 draws each cell in colour, red, green and blue each
    /// from its own value on the scale (so 0 is mid-grey on a diverging scale).
    pub channels: usize,
    /// Names for the rows (classes), shown at the rows' centres instead of numbers.
    pub row_names: Option<&'a [String]>,
    pub colorbar: bool,
}

impl Heatmap<'_> {
    /// A cell's colour: its value on the scale, or for three channels each one's share of the
    /// scale's range as red, green and blue.
    fn cell_color(&self, values: &[f32]) -> RGBColor {
        let [r, g, b] = values else {
            return self.scale.color(values[0]);
        };
        let (lo, hi) = self.scale.range();
        let byte = |v: f32| {
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            if t.is_nan() {
                200
            } else {
                (255.0 * t.clamp(0.0, 1.0)).round() as u8
            }
        };
        RGBColor(byte(*r), byte(*g), byte(*b))
    }

    /// The cells as one RGB bitmap covering exactly the pixels their rectangles would, where
    /// `pixel` maps chart coordinates to the backend's; with the chart position of its corner.
    fn cells_bitmap(
        &self,
        pixel: impl Fn(f64, f64) -> (i32, i32),
        shift: f64,
    ) -> ((f64, f64), CellsBitmap) {
        let xs: Vec<i32> = (0..=self.cols).map(|c| pixel(c as f64, -shift).0).collect();
        let ys: Vec<i32> = (0..=self.rows)
            .map(|r| pixel(0.0, r as f64 - shift).1)
            .collect();
        let width = (xs[self.cols] - xs[0]).max(0) as usize;
        let height = (ys[self.rows] - ys[0]).max(0) as usize;
        let mut rgb = vec![255u8; width * height * 3];
        for r in 0..self.rows {
            for c in 0..self.cols {
                let at = (r * self.cols + c) * self.channels;
                let RGBColor(red, green, blue) =
                    self.cell_color(&self.values[at..at + self.channels]);
                let (left, right) = ((xs[c] - xs[0]) as usize, (xs[c + 1] - xs[0]) as usize);
                for y in (ys[r] - ys[0]) as usize..(ys[r + 1] - ys[0]) as usize {
                    for x in left..right {
                        rgb[(y * width + x) * 3..][..3].copy_from_slice(&[red, green, blue]);
                    }
                }
            }
        }
        ((0.0, -shift), CellsBitmap { width, height, rgb })
    }

    pub fn draw<DB: Canvas>(&self, area: &DrawingArea<DB, Shift>) -> PlotResult {
        let (w, _) = area.dim_in_pixel();
        let (main, bar) = if self.colorbar {
            area.split_horizontally(w.saturating_sub(80))
        } else {
            (area.clone(), area.clone())
        };
        // Tick labels would swamp a thumbnail, so small panels show only the image.
        let ticks = w >= 160;
        let tick_area = |labelled: bool, base: u32| match (ticks, labelled) {
            (false, _) => 0,
            (true, false) => base,
            (true, true) => base + 14,
        };
        let main = main.titled(&self.title, font(13.0)).map_err(err)?;
        let (x_area, y_area) = (
            tick_area(!self.x_label.is_empty(), 18),
            tick_area(!self.y_label.is_empty(), 24),
        );
        let main = if self.square_cells {
            square_cells(&main, (x_area, y_area), (self.rows, self.cols))
        } else {
            main
        };
        // Named rows are labelled at their centres: row r spans r - 0.5 .. r + 0.5.
        let shift = if self.row_names.is_some() { 0.5 } else { 0.0 };
        let longest = self.row_names.map_or(0, |n| {
            n.iter().map(|s| s.chars().count()).max().unwrap_or(0)
        });
        let y_area = if ticks && self.row_names.is_some() {
            y_area.max(14 + 6 * longest as u32)
        } else {
            y_area
        };
        let mut chart = ChartBuilder::on(&main)
            .margin(HEATMAP_MARGIN)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(0f64..self.cols as f64, self.rows as f64 - shift..-shift)
            .map_err(err)?;
        let row_label = |v: &f64| match self.row_names {
            Some(names) => names
                .get(v.round() as usize)
                .filter(|_| (v - v.round()).abs() < 1e-6 && *v >= 0.0)
                .cloned()
                .unwrap_or_default(),
            None => format!("{}", *v as usize),
        };
        let y_labels = if self.row_names.is_some() {
            self.rows
        } else {
            self.rows.min(8)
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_labels(self.cols.min(8))
            .y_labels(y_labels)
            .x_label_formatter(&|v| format!("{}", *v as usize))
            .y_label_formatter(&row_label)
            .label_style(font(10.0))
            .axis_desc_style(font(11.0))
            .draw()
            .map_err(err)?;
        if DB::CELLS_AS_BITMAP && self.square_cells {
            let (at, bitmap) = self.cells_bitmap(|x, y| chart.backend_coord(&(x, y)), shift);
            // A panel too small to hold a pixel has nothing to show.
            if !bitmap.rgb.is_empty() {
                chart.plotting_area().draw(&bitmap.at(at)).map_err(err)?;
            }
        } else {
            chart
                .draw_series((0..self.rows).flat_map(|r| {
                    (0..self.cols).map(move |c| {
                        let at = (r * self.cols + c) * self.channels;
                        let top = r as f64 - shift;
                        Rectangle::new(
                            [(c as f64, top), (c as f64 + 1.0, top + 1.0)],
                            self.cell_color(&self.values[at..at + self.channels])
                                .filled(),
                        )
                    })
                }))
                .map_err(err)?;
        }
        if self.annotate {
            let style = font(10.0).pos(Pos::new(HPos::Center, VPos::Center));
            let (lo, hi) = self.scale.range();
            chart
                .draw_series((0..self.rows).flat_map(|r| {
                    let style = style.clone();
                    (0..self.cols).map(move |c| {
                        let v = self.values[r * self.cols + c];
                        // Light text on dark cells: viridis is dark at its low end, a
                        // diverging scale at both ends.
                        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                        let dark = match self.scale {
                            Scale::Viridis { .. } => t < 0.6,
                            _ => (t - 0.5).abs() > 0.35,
                        };
                        let color: &'static RGBColor = if dark { &WHITE } else { &BLACK };
                        Text::new(
                            format!("{v:.2}"),
                            (c as f64 + 0.5, r as f64 + 0.5 - shift),
                            style.clone().color(color),
                        )
                    })
                }))
                .map_err(err)?;
        }
        if self.colorbar {
            colorbar(&bar, self.scale)?;
        }
        Ok(())
    }
}

const HEATMAP_MARGIN: u32 = 4;

/// An image's cells drawn out as pixels, row-major RGB.
struct CellsBitmap {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl CellsBitmap {
    /// The bitmap as an element whose top-left corner lies at chart position `at`.
    fn at(self, at: (f64, f64)) -> BitMapElement<'static, (f64, f64)> {
        BitMapElement::with_owned_buffer(at, (self.width as u32, self.height as u32), self.rgb)
            .expect("the buffer holds width x height RGB pixels")
    }
}

/// The part of `area` whose plotting region holds `rows x cols` square cells, centred: an image
/// must keep its aspect ratio whatever the panel's shape.
fn square_cells<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x_area, y_area): (u32, u32),
    (rows, cols): (usize, usize),
) -> DrawingArea<DB, Shift> {
    let (w, h) = area.dim_in_pixel();
    let plot_w = w.saturating_sub(y_area + 2 * HEATMAP_MARGIN);
    let plot_h = h.saturating_sub(x_area + 2 * HEATMAP_MARGIN);
    let cell = (f64::from(plot_w) / cols as f64).min(f64::from(plot_h) / rows as f64);
    let extra_w = plot_w.saturating_sub((cell * cols as f64).round() as u32);
    let extra_h = plot_h.saturating_sub((cell * rows as f64).round() as u32);
    area.margin(
        extra_h / 2,
        extra_h - extra_h / 2,
        extra_w / 2,
        extra_w - extra_w / 2,
    )
}

/// A vertical colour bar with value ticks.
pub(crate) fn colorbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scale: Scale,
) -> PlotResult {
    let (lo, hi) = scale.range();
    let (lo, hi) = if hi > lo {
        (f64::from(lo), f64::from(hi))
    } else {
        (f64::from(lo) - 0.5, f64::from(lo) + 0.5)
    };
    // The bar fills x in 0..1 and its labels the rest, drawn as text in the chart's own
    // coordinates: plotters' axis labels would start under the tick marks and lose a digit.
    const WIDTH: f64 = 4.0;
    let mut chart = ChartBuilder::on(area)
        .margin_top(24)
        .margin_bottom(30)
        .margin_left(6)
        .margin_right(2)
        .build_cartesian_2d(0f64..WIDTH, lo..hi)
        .map_err(err)?;
    let steps = 100;
    let step = (hi - lo) / steps as f64;
    chart
        .draw_series((0..steps).map(|i| {
            let y0 = lo + i as f64 * step;
            Rectangle::new(
                [(0.0, y0), (1.0, y0 + step)],
                scale.color((y0 + step / 2.0) as f32).filled(),
            )
        }))
        .map_err(err)?;
    let ticks = nice_ticks(lo, hi);
    chart
        .draw_series(
            ticks
                .iter()
                .map(|&v| PathElement::new(vec![(1.0, v), (1.25, v)], BLACK)),
        )
        .map_err(err)?;
    let style = font(10.0).pos(Pos::new(HPos::Left, VPos::Center));
    chart
        .draw_series(
            ticks
                .iter()
                .map(|&v| Text::new(format_tick(v), (1.4, v), style.clone())),
        )
        .map_err(err)?;
    Ok(())
}

/// Round values (multiples of 1, 2 or 5 times a power of ten) spread over `lo..=hi`, about
/// five of them, with an exact 0 where the range crosses it.
fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let rough = (hi - lo) / 4.0;
    let power = 10f64.powf(rough.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    loop {
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        // A bar with one label cannot be read: halve the step until there are three.
        if last - first >= 2 || step < (hi - lo) * 1e-3 {
            return (first..=last).map(|i| i as f64 * step).collect();
        }
        step /= 2.0;
    }
}

pub(crate) fn format_tick(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 0.01 && v.abs() < 1000.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

/// One line of a line chart.
pub(crate) struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    pub dashed: bool,
}

impl Series {
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>, color: RGBColor) -> Self {
        Self {
            label: label.into(),
            points,
            color,
            dashed: false,
        }
    }

    pub(crate) fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

pub(crate) struct LineChart<'a> {
    pub title: String,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series>,
    /// Points' x are log10 of the values shown on the axis (1, 10, 100, …).
    pub x_log10: bool,
}

impl LineChart<'_> {
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> PlotResult {
        let all: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let (x0, x1) = bounds(all.iter().map(|p| p.0));
        let (y0, y1) = bounds(all.iter().map(|p| p.1));
        let pad = (y1 - y0) * 0.05;
        let entries: Vec<LegendEntry> = self
            .series
            .iter()
            .map(|s| LegendEntry {
                label: &s.label,
                color: s.color,
                sample: if s.dashed {
                    Sample::DashedLine
                } else {
                    Sample::Line
                },
            })
            .collect();
        let (area, legend_area) = split_for_legend(area, &entries);
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, font(14.0))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .x_labels(if self.x_log10 { 4 } else { 10 })
            .x_label_formatter(&|v| {
                if self.x_log10 {
                    format!("{:.0}", 10f64.powf(*v))
                } else {
                    format!("{v:.0}")
                }
            })
            .y_label_formatter(&|v| format_tick(*v))
            .label_style(font(11.0))
            .axis_desc_style(font(12.0))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(err)?;
        for s in &self.series {
            let style = ShapeStyle::from(&s.color).stroke_width(2);
            let points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(points.clone(), style))
                    .map_err(err)?;
            }
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 2, s.color.filled())))
                .map_err(err)?;
        }
        draw_legend(&legend_area, &entries)
    }
}

/// Grid lines light enough that the data dominates.
const GRID: RGBColor = RGBColor(228, 228, 228);

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
pub(crate) enum Sample {
    Line,
    DashedLine,
    Box,
}

pub(crate) struct LegendEntry<'a> {
    pub label: &'a str,
    pub color: RGBColor,
    pub sample: Sample,
}

const LEGEND_ROW: u32 = 18;
const LEGEND_SAMPLE: i32 = 26;

/// Legend entries laid out in rows across `width`: the top-left corner of each, and the height.
fn legend_layout<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> (Vec<(i32, i32)>, u32) {
    let (width, _) = area.dim_in_pixel();
    let style = font(11.0);
    let (mut x, mut y) = (60i32, 4i32);
    let mut places = Vec::new();
    for e in entries {
        let text = area
            .estimate_text_size(e.label, &style)
            .map_or(6 * e.label.len() as u32, |s| s.0);
        let w = LEGEND_SAMPLE + 6 + text as i32 + 18;
        if x > 60 && x + w > width as i32 {
            (x, y) = (60, y + LEGEND_ROW as i32);
        }
        places.push((x, y));
        x += w;
    }
    let height = if entries.is_empty() {
        0
    } else {
        y as u32 + LEGEND_ROW + 4
    };
    (places, height)
}

/// Splits off a strip below the chart for its legend, so the legend never covers data.
fn split_for_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (_, height) = legend_layout(area, entries);
    let (_, h) = area.dim_in_pixel();
    area.split_vertically(h.saturating_sub(height))
}

/// Each entry drawn with its series' own style: solid, dashed or a filled box.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> PlotResult {
    let (places, _) = legend_layout(area, entries);
    let mid = LEGEND_ROW as i32 / 2;
    for (e, &(x, y)) in entries.iter().zip(&places) {
        let style = ShapeStyle::from(&e.color).stroke_width(2);
        let y = y + mid;
        match e.sample {
            Sample::Line => area
                .draw(&PathElement::new(
                    vec![(x, y), (x + LEGEND_SAMPLE, y)],
                    style,
                ))
                .map_err(err)?,
            Sample::DashedLine => {
                for start in (0..LEGEND_SAMPLE).step_by(10) {
                    let end = (start + 6).min(LEGEND_SAMPLE);
                    area.draw(&PathElement::new(vec![(x + start, y), (x + end, y)], style))
                        .map_err(err)?;
                }
            }
            Sample::Box => area
                .draw(&Rectangle::new(
                    [(x + 4, y - 6), (x + LEGEND_SAMPLE - 4, y + 6)],
                    e.color.mix(0.55).filled(),
                ))
                .map_err(err)?,
        }
        area.draw(&Text::new(
            e.label.to_string(),
            (x + LEGEND_SAMPLE + 6, y),
            font(11.0).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

/// Two overlaid histograms on shared bins.
pub(crate) struct Histogram<'a> {
    pub title: String,
    pub x_label: &'a str,
    pub groups: Vec<(String, &'a [f64], RGBColor)>,
    pub bins: usize,
}

impl Histogram<'_> {
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> PlotResult {
        let (lo, hi) = bounds(self.groups.iter().flat_map(|g| g.1.iter().copied()));
        let width = (hi - lo) / self.bins as f64;
        let counts: Vec<Vec<usize>> = self
            .groups
            .iter()
            .map(|(_, values, _)| {
                let mut c = vec![0usize; self.bins];
                for &v in values.iter() {
                    let b = (((v - lo) / width) as usize).min(self.bins - 1);
                    c[b] += 1;
                }
                c
            })
            .collect();
        let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        let entries: Vec<LegendEntry> = self
            .groups
            .iter()
            .map(|(label, _, color)| LegendEntry {
                label,
                color: *color,
                sample: Sample::Box,
            })
            .collect();
        let (area, legend_area) = split_for_legend(area, &entries);
        let mut chart = ChartBuilder::on(&area)
            .caption(&self.title, font(14.0))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(44)
            .build_cartesian_2d(lo..hi, 0f64..top * 1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc("neurons")
            // Whole counts only: a short bar gets one label per count, never two for one.
            .y_labels((top as usize + 1).min(10))
            .x_label_formatter(&|v| format!("{v:.2}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style(font(11.0))
            .axis_desc_style(font(12.0))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .draw()
            .map_err(err)?;
        for ((_, _, color), counts) in self.groups.iter().zip(&counts) {
            let color = *color;
            chart
                .draw_series(counts.iter().enumerate().map(|(b, &n)| {
                    let x0 = lo + b as f64 * width;
                    Rectangle::new(
                        [(x0, 0.0), (x0 + width, n as f64)],
                        color.mix(0.55).filled(),
                    )
                }))
                .map_err(err)?;
        }
        draw_legend(&legend_area, &entries)
    }
}

/// A figure-wide title above a drawing area; returns the area below it.
pub(crate) fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>> {
    root.titled(title, font(18.0)).map_err(err)
}

/// Side of the most nearly square grid of `n` values, `rows x cols` with `cols >= rows`.
pub(crate) fn image_shape(n: usize) -> (usize, usize) {
    let side = (n as f64).sqrt() as usize;
    if side * side == n {
        return (side, side);
    }
    // 128 -> 16 x 8 as the article shows it; otherwise the squarest factorisation.
    let mut best = (1, n);
    for rows in 1..=side {
        if n.is_multiple_of(rows) {
            best = (rows, n / rows);
        }
    }
    (best.1, best.0)
}
