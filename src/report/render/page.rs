//! The page every HTML output shares (the report, the comparison, the limit search): one
//! self-contained document — inline styles, a few lines of script that record errors and check
//! that each chart was laid out (`data-drawn` beside the `data-points` the charts write, read back
//! by the Chromium tests), and a Content-Security-Policy that forbids any fetch — with its
//! sections and tables.

use std::fmt::Write;

use super::svg::{Chart, esc};

/// The styles of every page.
const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2530;background:#f4f6f9;margin:0}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 4px}
.sub,.note{color:#5b6675}.note{margin:0 0 8px;font-size:13px}
.banner{background:#fff4e5;border:1px solid #f0b45a;border-radius:6px;padding:8px 12px;margin:12px 0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px;margin:16px 0}
.card,section{background:#fff;border:1px solid #dde2ea;border-radius:8px;padding:12px 16px}
section{margin:16px 0}.card b{display:block;font-size:20px}.card span{color:#5b6675;font-size:12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid #e8ecf1;text-align:right}
th:first-child,td:first-child{text-align:left}th{color:#5b6675;font-weight:600}
.kv td{text-align:left}tr.fail td{background:#fdecea;color:#a61b1b;font-weight:600}.pass{color:#1b7837}
.verdict{font-size:16px;font-weight:600}td.sample{text-align:left;word-break:break-all}.kv td:first-child{color:#5b6675;width:200px}
svg.chart{width:100%;height:auto;display:block}
svg text{font-size:12px;fill:#3b4552}svg text.title{font-size:13px;fill:#1d2530}
svg text.empty{font-size:16px;fill:#8a94a3}
.grid{stroke:#e3e7ee}.axis,.tick{stroke:#8a94a3}
.series{fill:none;stroke-width:2;stroke-linejoin:round}.dashed{stroke-dasharray:6 4}
.pt{fill-opacity:0}.pt:hover{fill-opacity:1}.dot{fill-opacity:.9}
.band.partial{fill:#8a94a3;fill-opacity:.16}.band.stall{fill:#d62728;fill-opacity:.10}
code{font-size:12px}
";

/// Records errors and checks the charts were laid out; the page works without it.
const SCRIPT: &str = "
window.__tbErrors=[];
window.addEventListener('error',function(e){window.__tbErrors.push(String(e.message))});
(function(){var ce=console.error;console.error=function(){
window.__tbErrors.push(Array.prototype.join.call(arguments,' '));return ce.apply(console,arguments)}})();
window.addEventListener('load',function(){
document.querySelectorAll('svg.chart').forEach(function(svg){var n=0;
svg.querySelectorAll('polyline.series').forEach(function(p){var b=p.getBBox(),k=p.points.numberOfItems;
if(b.width>0||b.height>0||k===1)n+=k});
svg.querySelectorAll('rect.bar').forEach(function(r){var b=r.getBBox();if(b.width>0&&b.height>0)n++});
svg.setAttribute('data-drawn',String(n))});
document.body.setAttribute('data-errors',String(window.__tbErrors.length));
document.body.setAttribute('data-error-text',window.__tbErrors.join(' | '));
document.body.setAttribute('data-ready','1')});
";

/// The start of a page titled `title`, up to `<main>`: styles, the self-check script, and the
/// Content-Security-Policy that forbids every fetch. [`page_end`] closes it.
pub(crate) fn page_start(title: &str) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body><main>\n",
        esc(title)
    );
    o
}

/// Closes a page opened by [`page_start`].
pub(crate) fn page_end(o: &mut String) {
    o.push_str("</main></body></html>\n");
}

/// A section holding a chart, under a title and a note.
pub(crate) fn section(o: &mut String, title: &str, note: &str, chart: &Chart) {
    let _ =
        writeln!(o, "<section><h2>{}</h2><p class=\"note\">{}</p>{}</section>", esc(title), esc(note), chart.render());
}

/// A section holding a table (`none` when it has no rows); cells are escaped.
pub(crate) fn table(o: &mut String, title: &str, head: &[&str], rows: &[Vec<String>]) {
    let _ = write!(o, "<section><h2>{}</h2><table><tr>", esc(title));
    for h in head {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr>");
    for row in rows {
        o.push_str("<tr>");
        for cell in row {
            let _ = write!(o, "<td>{}</td>", esc(cell));
        }
        o.push_str("</tr>");
    }
    if rows.is_empty() {
        let _ = write!(o, "<tr><td colspan=\"{}\">none</td></tr>", head.len());
    }
    o.push_str("</table></section>\n");
}

/// A two-column table of names and values (`code`).
pub(crate) fn kv(o: &mut String, title: &str, rows: &[(String, String)]) {
    let _ = write!(o, "<section><h2>{}</h2><table class=\"kv\">", esc(title));
    for (k, v) in rows {
        let _ = write!(o, "<tr><td>{}</td><td><code>{}</code></td></tr>", esc(k), esc(v));
    }
    if rows.is_empty() {
        o.push_str("<tr><td>none</td><td></td></tr>");
    }
    o.push_str("</table></section>\n");
}
