//! Charts drawn on the server as SVG: one line per jail over a time range.
//!
//! Owns the drawing only (scales, axes, legend, colours that read on light and dark
//! pages alike). The numbers come from the caller; every name in them is escaped
//! here, because jail names end up inside markup. No script, no style element:
//! the SVG is shown through `<img>` and served under a CSP that forbids both.

use std::fmt::Write as _;

/// One jail's counts, one per bucket, oldest first.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: &'a [u64],
}

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 200.0;
/// Room for the axis labels on the left and below, and the legend on the right.
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 20.0;
const TOP: f64 = 10.0;
const LEGEND: f64 = 150.0;
/// Characters of a jail's name in the legend.
const LEGEND_CHARS: usize = 16;
/// Mid-tone colours: legible on white and on near-black.
const PALETTE: [&str; 8] = [
    "#3b82f6", "#ef4444", "#10b981", "#f59e0b", "#8b5cf6", "#ec4899", "#14b8a6", "#a3a3a3",
];
/// Lines drawn at most; the rest are summed into one called "other jails".
const MAX_LINES: usize = PALETTE.len();
const AXIS: &str = "#8a8a8a";

/// `text` safe inside SVG text and attribute values.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// One line of the chart.
struct Line {
    name: String,
    points: Vec<u64>,
    colour: &'static str,
}

/// The lines to draw: every jail while they fit, else the busiest, and the rest
/// summed into one. A jail's colour follows its place in `series`, so that it is
/// the same in every chart of the same jails.
fn lines(series: &[Series]) -> Vec<Line> {
    let own_colours = PALETTE.len() - 1;
    let mut ranked: Vec<usize> = (0..series.len()).collect();
    ranked.sort_by_key(|&i| std::cmp::Reverse(series[i].points.iter().sum::<u64>()));
    let keep = if series.len() <= MAX_LINES {
        series.len()
    } else {
        MAX_LINES - 1
    };
    let (kept, folded) = ranked.split_at(keep);
    let mut out: Vec<Line> = series
        .iter()
        .enumerate()
        .filter(|(i, _)| kept.contains(i))
        .map(|(i, s)| Line {
            name: s.name.to_string(),
            points: s.points.to_vec(),
            colour: PALETTE[i % own_colours],
        })
        .collect();
    if !folded.is_empty() {
        let len = folded
            .iter()
            .map(|&i| series[i].points.len())
            .max()
            .unwrap_or(0);
        let mut sum = vec![0u64; len];
        for &i in folded {
            for (total, p) in sum.iter_mut().zip(series[i].points) {
                *total += p;
            }
        }
        out.push(Line {
            name: format!("{} other jails", folded.len()),
            points: sum,
            colour: PALETTE[own_colours],
        });
    }
    out
}

/// A legend entry that fits beside the chart; the line's title has the whole name.
fn short(name: &str) -> String {
    if name.chars().count() <= LEGEND_CHARS {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(LEGEND_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// An SVG line chart of `series` titled `title`; `span` labels the left end of
/// the time axis ("-1h"), whose right end is now.
pub fn render(title: &str, span: &str, series: &[Series]) -> String {
    let lines = lines(series);
    let buckets = lines
        .iter()
        .map(|l| l.points.len())
        .max()
        .unwrap_or(0)
        .max(2);
    let top = lines
        .iter()
        .flat_map(|l| l.points.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_w = WIDTH - LEFT - LEGEND;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |i: usize| LEFT + plot_w * i as f64 / (buckets - 1) as f64;
    let y = |v: u64| TOP + plot_h * (1.0 - v as f64 / top as f64);
    let title = escape_xml(title);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"{title}\" font-family=\"sans-serif\" font-size=\"13\">\
         <title>{title}</title>"
    );
    let _ = write!(
        svg,
        "<path d=\"M{LEFT} {TOP}V{b}H{r}\" fill=\"none\" stroke=\"{AXIS}\" stroke-width=\"1\"/>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" fill=\"{AXIS}\">{top}</text>\
         <text x=\"{lx}\" y=\"{b}\" text-anchor=\"end\" fill=\"{AXIS}\">0</text>\
         <text x=\"{LEFT}\" y=\"{by}\" fill=\"{AXIS}\">{span}</text>\
         <text x=\"{r}\" y=\"{by}\" text-anchor=\"end\" fill=\"{AXIS}\">now</text>",
        b = TOP + plot_h,
        r = LEFT + plot_w,
        lx = LEFT - 4.0,
        ty = TOP + 8.0,
        by = HEIGHT - 4.0,
        span = escape_xml(span),
    );
    if lines.iter().all(|l| l.points.iter().all(|&v| v == 0)) {
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{AXIS}\">nothing in this range</text>",
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    for (i, line) in lines.iter().enumerate() {
        let path: Vec<String> = line
            .points
            .iter()
            .enumerate()
            .map(|(k, &v)| format!("{:.1},{:.1}", x(k), y(v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\">\
             <title>{}: {}</title></polyline>\
             <rect x=\"{lx}\" y=\"{ry}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{tx}\" y=\"{ty}\" fill=\"{AXIS}\">{}</text>",
            path.join(" "),
            escape_xml(&line.name),
            line.points.iter().sum::<u64>(),
            escape_xml(&short(&line.name)),
            colour = line.colour,
            lx = WIDTH - LEGEND + 10.0,
            ry = TOP + 16.0 * i as f64,
            tx = WIDTH - LEGEND + 24.0,
            ty = TOP + 9.0 + 16.0 * i as f64,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_nothing_runs() {
        let hostile = "<script>alert(1)</script>\"'&";
        let svg = render(
            "failures <b>",
            "-1h",
            &[Series {
                name: hostile,
                points: &[0, 3, 1],
            }],
        );
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
        assert!(!svg.contains("<style"), "{svg}");
        assert!(
            svg.contains(": 4</title>"),
            "the total in the line's title: {svg}"
        );
    }

    #[test]
    fn many_jails_fold_into_other_and_the_scale_follows_the_peak() {
        let points: Vec<Vec<u64>> = (0..12).map(|i| vec![i, 2 * i]).collect();
        let names: Vec<String> = (0..12).map(|i| format!("jail{i}")).collect();
        let series: Vec<Series> = names
            .iter()
            .zip(&points)
            .map(|(n, p)| Series { name: n, points: p })
            .collect();
        let svg = render("bans", "-1d", &series);
        assert_eq!(svg.matches("<polyline").count(), MAX_LINES);
        assert!(svg.contains(">5 other jails<"), "{svg}");
        assert!(svg.contains(">22</text>"), "peak of jail11: {svg}");
        assert!(
            !svg.contains(">jail0<"),
            "the quietest jail is folded: {svg}"
        );
    }

    #[test]
    fn an_empty_range_says_so() {
        let svg = render("bans", "-1h", &[]);
        assert!(svg.contains("nothing in this range"));
    }

    #[test]
    fn a_jail_keeps_its_colour_whatever_the_counts_and_long_names_are_cut() {
        let colour_of = |svg: &str, name: &str| {
            let at = svg.find(&format!(">{name}</text>")).unwrap();
            let rect = svg[..at].rfind("fill=\"").unwrap();
            svg[rect + 6..rect + 13].to_string()
        };
        let long = "a-very-long-jail-name-indeed";
        let chart = |ssh: &[u64], other: &[u64]| {
            render(
                "f",
                "-1h",
                &[
                    Series {
                        name: "ssh",
                        points: ssh,
                    },
                    Series {
                        name: long,
                        points: other,
                    },
                ],
            )
        };
        let a = chart(&[1, 9], &[1, 1]);
        let b = chart(&[0, 1], &[5, 9]);
        assert_eq!(colour_of(&a, "ssh"), colour_of(&b, "ssh"));
        assert!(a.contains(">a-very-long-jai…</text>"), "{a}");
        assert!(a.contains(&format!("<title>{long}: 2</title>")), "{a}");
    }
}
