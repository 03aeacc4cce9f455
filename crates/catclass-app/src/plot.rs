//! Charts as SVG and PNG, drawn with `plotters`: the sweep chart (accuracy against the training
//! share) and the confusion-matrix heat map of a multiclass evaluation.
//!
//! Text is set in DejaVu Sans, embedded in the binary (this crate's `assets/fonts`, licence beside it) and
//! registered with plotters' `ab_glyph` renderer, so the charts come out the same on a machine
//! without fonts. The PNG is rendered into memory and encoded with `png`, so both files can go
//! to any [`catclass_store::Location`].

use crate::sweep::{Metric, Sweep};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::OnceLock;

/// DejaVu Sans (see `assets/fonts/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");

/// The font family every chart uses (registered as DejaVu Sans).
const FAMILY: &str = "sans-serif";

/// Errors while drawing a chart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The embedded font could not be parsed.
    #[error("the embedded font could not be loaded")]
    Font,
    /// The drawing backend failed.
    #[error("drawing {chart}: {reason}")]
    Draw {
        /// Which chart.
        chart: &'static str,
        /// The backend's message.
        reason: String,
    },
    /// PNG encoding failed.
    #[error("encoding {chart} as PNG: {reason}")]
    Png {
        /// Which chart.
        chart: &'static str,
        /// The encoder's message.
        reason: String,
    },
}

/// A chart in both formats.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: Vec<u8>,
}

/// Registers the embedded font once per process.
fn font() -> Result<(), PlotError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok { Ok(()) } else { Err(PlotError::Font) }
}

/// Something drawn the same way on any backend.
trait Draw {
    /// Draws on `root` (already filled white).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>;
}

/// Draws `what` on an SVG and on a bitmap of `size` pixels, and encodes the bitmap as PNG.
fn render<D: Draw>(chart: &'static str, size: (u32, u32), what: &D) -> Result<Chart, PlotError> {
    font()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err(chart))?;
        what.draw(&root).map_err(draw_err(chart))?;
        root.present().map_err(draw_err(chart))?;
    }
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err(chart))?;
        what.draw(&root).map_err(draw_err(chart))?;
        root.present().map_err(draw_err(chart))?;
    }
    Ok(Chart {
        svg,
        png: encode_png(chart, &rgb, size)?,
    })
}

/// The three metrics of a sweep chart and their colours.
const METRICS: [(&str, RGBColor, Metric); 3] = [
    ("accuracy", RGBColor(31, 119, 180), |p| p.accuracy),
    ("balanced accuracy", RGBColor(44, 160, 44), |p| {
        p.balanced_accuracy
    }),
    ("F1", RGBColor(214, 39, 40), |p| p.f1),
];

/// Grey of the majority baseline.
const BASELINE: RGBColor = RGBColor(90, 90, 90);

struct SweepChart<'a>(&'a Sweep);

impl Draw for SweepChart<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let sweep = self.0;
        let shares = sweep.shares();
        let lo = shares.first().copied().unwrap_or(0.0);
        let hi = shares.last().copied().unwrap_or(1.0);
        let mut chart = ChartBuilder::on(root)
            .caption(&sweep.title, (FAMILY, 18))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d((lo - 0.05).max(0.0)..(hi + 0.05).min(1.0), 0.0f64..1.0)?;
        chart
            .configure_mesh()
            .x_desc("training share")
            .y_desc("score on the test rows")
            .axis_desc_style((FAMILY, 15))
            .label_style((FAMILY, 13))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        for (name, colour, metric) in METRICS {
            let stats: Vec<(f64, (f64, f64, f64))> = shares
                .iter()
                .map(|x| (*x, crate::sweep::band(&sweep.points, *x, metric)))
                .collect();
            let mut band: Vec<(f64, f64)> = stats.iter().map(|(x, (_, _, h))| (*x, *h)).collect();
            band.extend(stats.iter().rev().map(|(x, (_, l, _))| (*x, *l)));
            chart.draw_series(std::iter::once(Polygon::new(band, colour.mix(0.2))))?;
            chart
                .draw_series(LineSeries::new(
                    stats.iter().map(|(x, (m, _, _))| (*x, *m)),
                    colour.stroke_width(2),
                ))?
                .label(format!("{name}: mean, min-max band"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
        }
        let baseline: Vec<(f64, f64)> = shares
            .iter()
            .map(|x| {
                let (m, _, _) = crate::sweep::band(&sweep.points, *x, |p| p.majority_baseline);
                (*x, m)
            })
            .collect();
        chart
            .draw_series(DashedLineSeries::new(
                baseline,
                8,
                5,
                BASELINE.stroke_width(2),
            ))?
            .label("majority-class baseline")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BASELINE.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FAMILY, 13))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}

/// The sweep chart: per metric the mean line and the min-max band against the training share,
/// the majority baseline dashed, titled with the classes and settings (900 x 560 pixels).
pub fn sweep_chart(sweep: &Sweep) -> Result<Chart, PlotError> {
    render("the sweep chart", (900, 560), &SweepChart(sweep))
}

/// Dark end of the heat map's scale.
const DARK: (f64, f64, f64) = (8.0, 48.0, 107.0);

/// The colour of a row share in `0 ..= 1` (white to dark blue).
fn shade(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let mix = |d: f64| (255.0 + (d - 255.0) * v).round() as u8;
    RGBColor(mix(DARK.0), mix(DARK.1), mix(DARK.2))
}

struct ConfusionChart<'a> {
    classes: &'a [String],
    counts: &'a [Vec<u64>],
    title: &'a str,
    cell: u32,
    names: u32,
}

impl Draw for ConfusionChart<'_> {
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let n = self.classes.len();
        let (w, _) = root.dim_in_pixel();
        let (plot, legend) = root.split_horizontally(w.saturating_sub(110));
        let label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => self.classes[*i].clone(),
            _ => String::new(),
        };
        let y_label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => self.classes[n - 1 - *i].clone(),
            _ => String::new(),
        };
        let font = (self.cell as f64 * 0.6).clamp(8.0, 13.0);
        let mut chart = ChartBuilder::on(&plot)
            .caption(self.title, (FAMILY, 16))
            .margin(10)
            .x_label_area_size(self.names + 25)
            .y_label_area_size(self.names + 25)
            // A segmented `0..m` has `m + 1` segments.
            .build_cartesian_2d(
                (0..n.saturating_sub(1)).into_segmented(),
                (0..n.saturating_sub(1)).into_segmented(),
            )?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n)
            .y_labels(n)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&y_label)
            .y_label_style((FAMILY, font))
            .x_desc("predicted class")
            .y_desc("true class")
            .axis_desc_style((FAMILY, 14))
            .draw()?;
        let mut cells = Vec::new();
        let mut texts = Vec::new();
        for (i, row) in self.counts.iter().enumerate().take(n) {
            let total: u64 = row.iter().sum();
            let y = n - 1 - i;
            for (j, &c) in row.iter().enumerate().take(n) {
                let v = if total > 0 {
                    c as f64 / total as f64
                } else {
                    0.0
                };
                cells.push(Rectangle::new(
                    [
                        (SegmentValue::Exact(j), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
                    ],
                    shade(v).filled(),
                ));
                if c > 0 {
                    let ink: &RGBColor = if v > 0.5 { &WHITE } else { &BLACK };
                    texts.push(Text::new(
                        c.to_string(),
                        (SegmentValue::CenterOf(j), SegmentValue::CenterOf(y)),
                        TextStyle::from((FAMILY, font * 0.85).into_font())
                            .color(ink)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ));
                }
            }
        }
        chart.draw_series(cells)?;
        chart.draw_series(texts)?;
        // Column names, written downwards (the mesh's own rotated labels are misplaced).
        let down = TextStyle::from((FAMILY, font).into_font())
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for j in 0..n {
            let (x, y) = chart.backend_coord(&(SegmentValue::CenterOf(j), SegmentValue::Exact(0)));
            plot.draw(&Text::new(
                label(&SegmentValue::CenterOf(j)),
                (x, y + 8),
                &down,
            ))?;
        }
        // The legend: the shading scale, as a column of bands.
        let (top, bottom) = (60i32, 60i32 + 200);
        let steps = 40;
        for s in 0..steps {
            let y0 = bottom - (bottom - top) * (s + 1) / steps;
            let y1 = bottom - (bottom - top) * s / steps;
            legend.draw(&Rectangle::new(
                [(20, y0), (44, y1)],
                shade((s as f64 + 0.5) / steps as f64).filled(),
            ))?;
        }
        legend.draw(&Rectangle::new([(20, top), (44, bottom)], BLACK))?;
        for (v, y) in [(1.0, top), (0.5, (top + bottom) / 2), (0.0, bottom)] {
            legend.draw(&Text::new(
                format!("{:.0}%", v * 100.0),
                (50, y - 6),
                (FAMILY, 12),
            ))?;
        }
        legend.draw(&Text::new("share of the", (8, bottom + 16), (FAMILY, 11)))?;
        legend.draw(&Text::new("true class's", (8, bottom + 30), (FAMILY, 11)))?;
        legend.draw(&Text::new("rows; counts", (8, bottom + 44), (FAMILY, 11)))?;
        legend.draw(&Text::new("in the cells", (8, bottom + 58), (FAMILY, 11)))?;
        Ok(())
    }
}

/// The confusion-matrix heat map of multiclass metrics (see [`confusion_chart`]).
pub fn metrics_confusion_chart(
    metrics: &catclass_svm::MulticlassMetrics,
    title: &str,
) -> Result<Option<Chart>, PlotError> {
    let classes: Vec<String> = metrics.per_class.iter().map(|c| c.class.clone()).collect();
    confusion_chart(&classes, &metrics.confusion, title)
}

/// The most classes a confusion heat map is drawn for: its side grows with the class count
/// (10 000 classes would be a 120 GB image); above this the report's text holds the matrix.
pub const MAX_HEATMAP_CLASSES: usize = 100;

/// The longest class name given room in the heat map's margin (longer names are clipped).
const MAX_LABEL_CHARS: u32 = 40;

/// The confusion-matrix heat map: true class down, predicted class across, cells shaded by
/// the share of the true class's rows (row-normalised) and labelled with their counts, a
/// legend of the scale at the right. `counts[i][j]`: rows of class `i` predicted `j`. `None`
/// above [`MAX_HEATMAP_CLASSES`] classes.
///
/// ```
/// use catclass_app::plot::confusion_chart;
/// let classes: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
/// let counts = vec![vec![0; 101]; 101];
/// assert!(confusion_chart(&classes, &counts, "too many")?.is_none());
/// let chart = confusion_chart(&classes[..2], &[vec![3, 1], vec![0, 4]], "two")?.unwrap();
/// assert!(chart.svg.contains("<svg"));
/// # Ok::<(), catclass_app::plot::PlotError>(())
/// ```
pub fn confusion_chart(
    classes: &[String],
    counts: &[Vec<u64>],
    title: &str,
) -> Result<Option<Chart>, PlotError> {
    if classes.len() > MAX_HEATMAP_CLASSES {
        return Ok(None);
    }
    let n = classes.len() as u32;
    let cell = if n <= 12 { 44 } else { 20 };
    let longest = classes
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(1)
        .min(MAX_LABEL_CHARS as usize) as u32;
    let names = longest * 7 + 10;
    let side = n.max(1) * cell + names + 25 + 40;
    let size = (side + 110 + 20, side + 40);
    let chart = ConfusionChart {
        classes,
        counts,
        title,
        cell,
        names,
    };
    render("the confusion matrix", size, &chart).map(Some)
}

/// Turns a backend error into a [`PlotError`].
fn draw_err<E: std::fmt::Debug>(chart: &'static str) -> impl Fn(E) -> PlotError {
    move |e| PlotError::Draw {
        chart,
        reason: format!("{e:?}"),
    }
}

/// Encodes an RGB buffer as PNG.
fn encode_png(chart: &'static str, rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, PlotError> {
    let err = |e: png::EncodingError| PlotError::Png {
        chart,
        reason: e.to_string(),
    };
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::SweepPoint;
    use std::collections::HashSet;

    /// Decodes a PNG: width, height, RGB bytes.
    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    /// Asserts the PNG has `size` pixels, several colours, and ink inside the central region.
    fn assert_not_blank(png_bytes: &[u8], size: (u32, u32)) {
        let (w, h, rgb) = decode(png_bytes);
        assert_eq!((w, h), size);
        let px = |x: u32, y: u32| {
            let i = (y * w + x) as usize * 3;
            (rgb[i], rgb[i + 1], rgb[i + 2])
        };
        let colours: HashSet<_> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| px(x, y))
            .collect();
        assert!(colours.len() >= 6, "only {} colours", colours.len());
        let inked = (h / 4..3 * h / 4)
            .flat_map(|y| (w / 4..3 * w / 4).map(move |x| (x, y)))
            .filter(|&(x, y)| px(x, y) != (255, 255, 255))
            .count();
        assert!(
            inked > 500,
            "only {inked} non-white pixels in the plot area"
        );
        // Text was rendered: dark pixels near the top (the title).
        let dark = (0..h / 10)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let (r, g, b) = px(x, y);
                r < 100 && g < 100 && b < 100
            })
            .count();
        assert!(dark > 50, "no title text ({dark} dark pixels)");
    }

    fn sweep() -> Sweep {
        let mut points = Vec::new();
        for (k, share) in [0.1, 0.5, 0.9].into_iter().enumerate() {
            for seed in 0..3u64 {
                let v = 0.5 + 0.1 * k as f64 + 0.02 * seed as f64;
                points.push(SweepPoint {
                    share,
                    seed,
                    accuracy: v,
                    balanced_accuracy: v - 0.1,
                    f1: v - 0.2,
                    majority_baseline: 0.5,
                    train_seconds: 0.0,
                });
            }
        }
        Sweep {
            title: "Bengal vs Sphynx (MLlib SGD, 3 repeats)".into(),
            points,
        }
    }

    #[test]
    fn sweep_chart_has_title_labels_bands_and_ink() {
        let chart = sweep_chart(&sweep()).unwrap();
        for text in [
            "Bengal vs Sphynx",
            "training share",
            "score on the test rows",
            "accuracy: mean, min-max band",
            "balanced accuracy",
            "majority-class baseline",
        ] {
            assert!(chart.svg.contains(text), "SVG lacks {text:?}");
        }
        assert_eq!(
            chart.svg.matches("<polygon").count(),
            3,
            "one band per metric"
        );
        assert_not_blank(&chart.png, (900, 560));
        if let Ok(dir) = std::env::var("CATCLASS_PLOT_DUMP") {
            std::fs::write(format!("{dir}/sweep.png"), &chart.png).unwrap();
        }
    }

    #[test]
    fn confusion_chart_names_the_classes_and_shades_the_cells() {
        let classes: Vec<String> = ["Abyssinian", "Bengal", "Sphynx & co"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let counts = vec![vec![8, 2, 0], vec![1, 9, 0], vec![0, 3, 7]];
        let chart = confusion_chart(&classes, &counts, "confusion matrix, 30 test rows")
            .unwrap()
            .unwrap();
        for text in [
            "Abyssinian",
            "Bengal",
            "Sphynx &amp; co",
            "predicted class",
            "true class",
            "confusion matrix, 30 test rows",
        ] {
            assert!(chart.svg.contains(text), "SVG lacks {text:?}");
        }
        let (w, h, rgb) = decode(&chart.png);
        assert_not_blank(&chart.png, (w, h));
        // The darkest cell colour (a full row share would be DARK; 9/10 is close to it).
        let darkest = rgb
            .chunks(3)
            .filter(|p| p[2] > p[0] + 40)
            .map(|p| p[0] as u32 + p[1] as u32)
            .min()
            .expect("blue cells");
        assert!(darkest < 120, "cells not shaded ({darkest})");
        // 37 classes still render.
        let many: Vec<String> = (0..37).map(|i| format!("breed_{i}")).collect();
        let diag: Vec<Vec<u64>> = (0..37)
            .map(|i| (0..37).map(|j| u64::from(i == j) * 5).collect())
            .collect();
        let big = confusion_chart(&many, &diag, "37 classes")
            .unwrap()
            .unwrap();
        assert!(big.svg.contains("breed_36"));
        let (bw, bh, _) = decode(&big.png);
        assert!(bw > 37 * 20 && bh > 37 * 20, "{bw}x{bh}");
        if let Ok(dir) = std::env::var("CATCLASS_PLOT_DUMP") {
            std::fs::write(format!("{dir}/confusion3.png"), &chart.png).unwrap();
            std::fs::write(format!("{dir}/confusion37.png"), &big.png).unwrap();
        }
    }
}
