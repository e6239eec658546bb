//! Static SVG charts for the HTML report: line charts (broken where the data has a hole) and
//! stacked bars with labelled axes, a legend, shaded bands behind the data (partial or stalled
//! seconds) and `<title>` tooltips.
//!
//! Charts are drawn here, in Rust, rather than by a JavaScript library: the page must work
//! offline and from a CI artifact, so it cannot fetch one, and inlining one would make every
//! report hundreds of kilobytes. Each chart carries `data-points`, the number of data points
//! it draws, so a test (and the page's own check) can tell a chart with data from an empty
//! frame.

use std::fmt::Write;

/// Drawing size in SVG units; the page scales charts to its width.
const W: f64 = 1160.0;
const H: f64 = 320.0;
/// Plot margins: room for tick labels (left, bottom), the legend (top).
const LEFT: f64 = 76.0;
const RIGHT: f64 = 40.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 48.0;
/// Beyond this many points a line gets no per-point tooltips (they would dominate the file).
const MAX_TIPS: usize = 1500;
/// Up to this many points a line also shows its points as dots (a short run stays readable).
const MAX_DOTS: usize = 60;

/// Escapes text for HTML and SVG content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// One axis: its range, its tick positions with labels, and its title (with the unit).
#[derive(Debug, Clone)]
pub struct Axis {
    /// Value at the start of the axis.
    pub min: f64,
    /// Value at the end.
    pub max: f64,
    /// Tick values and their labels.
    pub ticks: Vec<(f64, String)>,
    /// Axis title, with its unit.
    pub title: String,
}

impl Axis {
    /// A linear axis from `min` up to `max` rounded to a 1-2-5 step, about five ticks.
    pub fn linear(min: f64, max: f64, title: &str) -> Axis {
        let span = if max > min { max - min } else { 1.0 };
        let step = nice_step(span / 5.0);
        let top = min + (span / step).ceil() * step;
        let n = ((top - min) / step).round() as usize;
        let ticks = (0..=n).map(|i| min + i as f64 * step).map(|v| (v, number(v))).collect();
        Axis { min, max: top, ticks, title: title.to_string() }
    }

    /// The same axis ending exactly at `max` (time axes end with the data, not a round number).
    pub fn tight(mut self, max: f64) -> Axis {
        self.max = max;
        self.ticks.retain(|t| t.0 <= max + 1e-9);
        self
    }

    fn frac(&self, v: f64) -> f64 {
        if self.max > self.min { (v - self.min) / (self.max - self.min) } else { 0.0 }
    }
}

/// The 1, 2 or 5 × 10^k at or above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| *s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * mag)
}

/// A tick label: integers without decimals, thousands as `k`, otherwise up to 2 decimals.
pub fn number(v: f64) -> String {
    if v.abs() >= 10_000.0 {
        format!("{}k", number(v / 1000.0))
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A line: points in data units, with a tooltip text per point.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend name.
    pub name: String,
    /// Stroke colour.
    pub color: &'static str,
    /// Drawn dashed (a reference, such as the target).
    pub dashed: bool,
    /// `(x, y)` in data units.
    pub points: Vec<(f64, f64)>,
    /// One tooltip per point (or none).
    pub tips: Vec<String>,
}

/// One layer of stacked bars: a value per bar.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Legend name.
    pub name: String,
    /// Fill colour.
    pub color: &'static str,
    /// Height of this layer in each bar (same length as the bars' `x`).
    pub values: Vec<f64>,
}

/// A shaded stretch of the x axis behind the data (a partial second, a stall), with a tooltip.
#[derive(Debug, Clone)]
pub struct Band {
    /// Start, in x data units.
    pub from: f64,
    /// End, in x data units.
    pub to: f64,
    /// CSS class: `partial` or `stall` (the page styles each).
    pub class: &'static str,
    /// Tooltip.
    pub tip: String,
}

/// What a chart draws.
#[derive(Debug, Clone)]
pub enum Marks {
    /// Lines over a shared x axis.
    Lines(Vec<Line>),
    /// Stacked bars at `x` (one unit wide), layers from the bottom up; `labels` name each bar
    /// in tooltips.
    Stacked { x: Vec<f64>, labels: Vec<String>, layers: Vec<Layer> },
}

/// A chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Element id (tests and the page's self-check find charts by it).
    pub id: &'static str,
    /// Accessible title.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// The data.
    pub marks: Marks,
    /// Shown instead of the plot when there is nothing to draw.
    pub empty: &'static str,
    /// Shaded stretches behind the data.
    pub bands: Vec<Band>,
    /// Points of a line further apart than this on x are not joined: the line breaks there
    /// (a second without data). `None` joins every point.
    pub join_within: Option<f64>,
}

impl Chart {
    /// Data points drawn: line points, plus bar segments with a height.
    pub fn points(&self) -> usize {
        match &self.marks {
            Marks::Lines(lines) => lines.iter().map(|l| l.points.len()).sum(),
            Marks::Stacked { layers, .. } => layers.iter().flat_map(|l| &l.values).filter(|v| **v > 0.0).count(),
        }
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let mut o = String::new();
        let _ = write!(
            o,
            r#"<svg class="chart" id="{}" data-points="{}" viewBox="0 0 {W} {H}" role="img" aria-label="{}">"#,
            self.id,
            self.points(),
            esc(&self.title)
        );
        self.axes(&mut o);
        if self.points() == 0 {
            let _ = write!(
                o,
                r#"<text class="empty" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                LEFT + (W - LEFT - RIGHT) / 2.0,
                TOP + (H - TOP - BOTTOM) / 2.0,
                esc(self.empty)
            );
        } else {
            self.bands(&mut o);
            match &self.marks {
                Marks::Lines(lines) => lines.iter().for_each(|l| self.line(&mut o, l)),
                Marks::Stacked { x, labels, layers } => self.bars(&mut o, x, labels, layers),
            }
        }
        self.legend(&mut o);
        o.push_str("</svg>");
        o
    }

    fn px(&self, v: f64) -> f64 {
        LEFT + self.x.frac(v) * (W - LEFT - RIGHT)
    }

    fn py(&self, v: f64) -> f64 {
        H - BOTTOM - self.y.frac(v) * (H - TOP - BOTTOM)
    }

    fn axes(&self, o: &mut String) {
        let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
        o.push_str(r#"<g class="axes">"#);
        for (v, label) in &self.y.ticks {
            let y = self.py(*v);
            let _ = write!(
                o,
                r#"<line class="grid" x1="{x0}" x2="{x1}" y1="{y:.1}" y2="{y:.1}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 6.0,
                y + 4.0,
                esc(label)
            );
        }
        for (v, label) in &self.x.ticks {
            let x = self.px(*v);
            let _ = write!(
                o,
                r#"<line class="tick" x1="{x:.1}" x2="{x:.1}" y1="{y1}" y2="{:.1}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                y1 + 5.0,
                y1 + 18.0,
                esc(label)
            );
        }
        let _ = write!(
            o,
            r#"<line class="axis" x1="{x0}" x2="{x1}" y1="{y1}" y2="{y1}"/><line class="axis" x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}"/>"#
        );
        let _ = write!(
            o,
            r#"<text class="title" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            H - 8.0,
            esc(&self.x.title)
        );
        let _ = write!(
            o,
            r#"<text class="title" transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text></g>"#,
            (y0 + y1) / 2.0,
            esc(&self.y.title)
        );
    }

    /// `l`'s points split where they are too far apart to join.
    fn segments<'l>(&self, l: &'l Line) -> Vec<&'l [(f64, f64)]> {
        let Some(gap) = self.join_within else { return vec![&l.points[..]] };
        let mut out = Vec::new();
        let mut from = 0;
        for i in 1..=l.points.len() {
            if i == l.points.len() || l.points[i].0 - l.points[i - 1].0 > gap + 1e-9 {
                out.push(&l.points[from..i]);
                from = i;
            }
        }
        out
    }

    fn line(&self, o: &mut String, l: &Line) {
        let segments = self.segments(l);
        for seg in &segments {
            let pts: Vec<String> = seg.iter().map(|(x, y)| format!("{:.1},{:.1}", self.px(*x), self.py(*y))).collect();
            let _ = write!(
                o,
                r#"<polyline class="series{}" stroke="{}" points="{}"><title>{}</title></polyline>"#,
                if l.dashed { " dashed" } else { "" },
                l.color,
                pts.join(" "),
                esc(&l.name)
            );
        }
        // A point with no neighbour draws no stroke: it gets a dot even on a long line.
        let tips = l.points.len() <= MAX_TIPS;
        let class = if l.points.len() <= MAX_DOTS { "pt dot" } else { "pt" };
        let mut i = 0;
        for seg in segments {
            let lone = seg.len() == 1;
            for (x, y) in seg {
                let tip = l.tips.get(i).filter(|_| tips).map(|t| format!("<title>{}</title>", esc(t)));
                i += 1;
                if !tips && !lone {
                    continue;
                }
                let _ = write!(
                    o,
                    r#"<circle class="{}" cx="{:.1}" cy="{:.1}" r="4" fill="{}">{}</circle>"#,
                    if lone { "pt dot" } else { class },
                    self.px(*x),
                    self.py(*y),
                    l.color,
                    tip.unwrap_or_default()
                );
            }
        }
    }

    fn bands(&self, o: &mut String) {
        let (top, bottom) = (self.py(self.y.max), self.py(self.y.min));
        for b in &self.bands {
            let (x0, x1) = (self.px(b.from.max(self.x.min)), self.px(b.to.min(self.x.max)));
            if x1 <= x0 {
                continue;
            }
            let _ = write!(
                o,
                r#"<rect class="band {}" x="{x0:.1}" y="{top:.1}" width="{:.1}" height="{:.1}"><title>{}</title></rect>"#,
                b.class,
                x1 - x0,
                bottom - top,
                esc(&b.tip)
            );
        }
    }

    fn bars(&self, o: &mut String, x: &[f64], labels: &[String], layers: &[Layer]) {
        let unit = (self.px(1.0) - self.px(0.0)).abs();
        let width = (unit * 0.85).max(1.0);
        for (i, xv) in x.iter().enumerate() {
            let mut base = 0.0;
            for layer in layers {
                let v = layer.values.get(i).copied().unwrap_or(0.0);
                if v <= 0.0 {
                    continue;
                }
                let (top, bottom) = (self.py(base + v), self.py(base));
                let label = labels.get(i).map(String::as_str).unwrap_or("");
                let _ = write!(
                    o,
                    r#"<rect class="bar" x="{:.2}" y="{top:.2}" width="{width:.2}" height="{:.2}" fill="{}"><title>{}</title></rect>"#,
                    self.px(*xv) - width / 2.0,
                    (bottom - top).max(0.5),
                    layer.color,
                    esc(&format!("{label} · {}: {}", layer.name, number(v)))
                );
                base += v;
            }
        }
    }

    fn legend(&self, o: &mut String) {
        let items: Vec<(&str, &str, bool)> = match &self.marks {
            Marks::Lines(lines) => lines.iter().map(|l| (l.name.as_str(), l.color, l.dashed)).collect(),
            Marks::Stacked { layers, .. } => layers.iter().map(|l| (l.name.as_str(), l.color, false)).collect(),
        };
        let mut x = LEFT;
        o.push_str(r#"<g class="legend">"#);
        for (name, color, dashed) in items {
            let _ = write!(
                o,
                r#"<line class="series{}" stroke="{color}" x1="{x:.1}" x2="{:.1}" y1="14" y2="14"/><text x="{:.1}" y="18">{}</text>"#,
                if dashed { " dashed" } else { "" },
                x + 22.0,
                x + 28.0,
                esc(name)
            );
            x += 44.0 + 7.0 * name.chars().count() as f64;
        }
        o.push_str("</g>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        let a = Axis::linear(0.0, 83.3, "req/s");
        assert_eq!(a.max, 100.0);
        assert_eq!(a.ticks.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(), ["0", "20", "40", "60", "80", "100"]);
        assert_eq!(Axis::linear(0.0, 0.0, "x").max, 1.0);
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(25_000.0), "25k");
        assert_eq!(nice_step(0.3), 0.5);
    }

    #[test]
    fn charts_count_what_they_draw_and_escape_text() {
        let line = Line {
            name: "a<b".into(),
            color: "#000",
            dashed: false,
            points: vec![(0.0, 1.0), (1.0, 2.0), (2.0, 1.5)],
            tips: vec![],
        };
        let c = Chart {
            id: "c",
            title: "t & u".into(),
            x: Axis::linear(0.0, 2.0, "s"),
            y: Axis::linear(0.0, 2.0, "ms"),
            marks: Marks::Lines(vec![line]),
            empty: "none",
            bands: vec![],
            join_within: None,
        };
        let svg = c.render();
        assert!(svg.contains(r#"data-points="3""#), "{svg}");
        assert!(svg.contains("a&lt;b") && svg.contains("t &amp; u"));
        assert_eq!(svg.matches("<circle").count(), 3);
        let empty = Chart { marks: Marks::Lines(vec![]), ..c };
        assert!(empty.render().contains(r#"data-points="0""#) && empty.render().contains(">none</text>"));
    }

    #[test]
    fn lines_break_across_gaps_and_bands_sit_behind_them() {
        let line = Line {
            name: "achieved".into(),
            color: "#000",
            dashed: false,
            points: vec![(1.0, 1.0), (2.0, 2.0), (4.0, 1.0), (6.0, 3.0), (7.0, 3.0)],
            tips: vec![],
        };
        let c = Chart {
            id: "c",
            title: "t".into(),
            x: Axis::linear(0.0, 8.0, "s"),
            y: Axis::linear(0.0, 3.0, "n"),
            marks: Marks::Lines(vec![line]),
            empty: "none",
            bands: vec![Band { from: -0.5, to: 0.5, class: "partial", tip: "first".into() }],
            join_within: Some(1.0),
        };
        let svg = c.render();
        assert_eq!(svg.matches("<polyline").count(), 3, "1-2, 4 alone, 6-7: {svg}");
        assert!(svg.contains(r#"data-points="5""#));
        assert_eq!(svg.matches(r#"<rect class="band partial""#).count(), 1);
        assert!(svg.find("band partial") < svg.find("<polyline"), "bands are drawn under the lines");
        let joined = Chart { join_within: None, ..c };
        assert_eq!(joined.render().matches("<polyline").count(), 1);
    }
}
