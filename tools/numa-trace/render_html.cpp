// `numa-trace report --html`: the report as one page people look at. Every
// table and figure is written here, server-side, as HTML and SVG, so the
// page holds all of its data without running anything; the script only
// zooms and pans the timeline and records script errors in the page
// (body[data-errors]) for the test that opens it in headless Chromium.
#include "render_html.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli.h"
#include "numatrace/codec.h"
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/remote.h"

namespace numatrace::cli {

namespace {

// Okabe-Ito: told apart with every common colour-vision deficiency. Node k
// has colour k; unknown or absent pages are grey and hatched.
constexpr const char* kNodeColour[NT_FR_MAX_NODES] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                                      "#56B4E9", "#D55E00", "#F0E442", "#000000"};
constexpr const char* kUnknown = "url(#unknown)";

std::string colour(int node) {
  return node >= 0 && node < NT_FR_MAX_NODES ? kNodeColour[node] : kUnknown;
}

// Text from a trace, for HTML: escaped, and bytes that are not UTF-8 become
// U+FFFD, so a hostile tensor name can neither inject markup nor break the
// page's encoding.
std::string esc(const std::string& in) {
  std::string s = printable(in), out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (!ok) {
      out += "\xef\xbf\xbd";
      ++i;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.append(s, i, n);
    }
    i += n;
  }
  return out;
}

std::string num(double v, int decimals = 1) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string node_text(int node) {
  return node >= 0 ? "node " + std::to_string(node) : "unknown node";
}

// A bar of a placement histogram: one segment per node, the share of the
// present sampled pages; absent pages hatched at the end.
std::string placement_bar(const uint32_t (&hist)[NT_FR_MAX_NODES], uint32_t sampled, uint32_t absent, int nodes) {
  if (!sampled) return "<span class=\"muted\">not sampled</span>";
  std::string svg = "<svg class=\"bar\" viewBox=\"0 0 100 10\" preserveAspectRatio=\"none\" role=\"img\"><title>";
  std::string title, rects;
  double x = 0;
  for (int n = 0; n < nodes; ++n) {
    const double w = 100.0 * hist[n] / sampled;
    title += (n ? ", node " : "node ") + std::to_string(n) + " " + num(100.0 * hist[n] / sampled, 0) + "%";
    if (w > 0)
      rects += "<rect x=\"" + num(x, 2) + "\" width=\"" + num(w, 2) + "\" height=\"10\" fill=\"" + colour(n) + "\"/>";
    x += w;
  }
  if (absent) {
    title += ", " + std::to_string(absent) + " of " + std::to_string(sampled) + " pages absent";
    rects +=
        "<rect x=\"" + num(x, 2) + "\" width=\"" + num(100.0 - x, 2) + "\" height=\"10\" fill=\"" + kUnknown + "\"/>";
  }
  return svg + esc(title) + "</title>" + rects + "</svg> <span class=\"small\">" + esc(title) + "</span>";
}

const char* kStyle = R"(
:root{--fg:#1a1a1a;--muted:#666;--line:#ccc;--bg:#fff;--err:#b00020;--warn:#8a5a00;--info:#005a8a}
body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;max-width:1200px;padding:0 16px 48px}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--line)}
nav a{margin-right:12px}a:focus,button:focus,[tabindex]:focus,summary:focus{outline:3px solid #0072B2;outline-offset:2px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{font-weight:600}td.r,th.r{text-align:right}.mono{font-family:ui-monospace,monospace}.muted{color:var(--muted)}.small{font-size:12px;color:var(--muted)}
svg.bar{width:160px;height:12px;vertical-align:middle;border:1px solid var(--line)}
.finding{border-left:5px solid var(--line);padding:6px 10px;margin:8px 0;background:#fafafa}
.sev-error{border-color:var(--err)}.sev-warning{border-color:var(--warn)}.sev-info{border-color:var(--info)}
.finding h3{font-size:15px;margin:0 0 4px}.legend span{display:inline-block;margin-right:14px}
.swatch{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px;border:1px solid #999}
.crash{border:2px solid var(--err);padding:8px 12px}.figure{overflow-x:auto}
#timeline svg{width:100%;height:auto;border:1px solid var(--line);background:#fcfcfc}
.controls button{font:inherit;margin-right:6px;padding:2px 10px}
)";

// Zoom and pan of the timeline: buttons, keys (+ - arrows 0) when it has
// the focus, the wheel at the pointer. Script errors are written into the
// page, so a headless browser's DOM shows them.
const char* kScript = R"(
(function(){
var svg=document.getElementById('tl');if(!svg)return;
var full=svg.viewBox.baseVal,W=full.width,H=full.height,x=0,w=W;
function draw(){w=Math.max(W/4096,Math.min(W,w));x=Math.max(0,Math.min(W-w,x));
svg.setAttribute('viewBox',(x+0)+' 0 '+w+' '+H);
document.getElementById('tl-zoom').textContent=(W/w).toFixed(1)+'x';}
function zoom(f,at){var c=at===undefined?x+w/2:at;var nw=w/f;x=c-(c-x)*(nw/w);w=nw;draw();}
document.getElementById('tl-in').onclick=function(){zoom(2);};
document.getElementById('tl-out').onclick=function(){zoom(0.5);};
document.getElementById('tl-reset').onclick=function(){x=0;w=W;draw();};
svg.addEventListener('keydown',function(e){
if(e.key==='+'||e.key==='='){zoom(2);}else if(e.key==='-'){zoom(0.5);}
else if(e.key==='ArrowLeft'){x-=w/8;draw();}else if(e.key==='ArrowRight'){x+=w/8;draw();}
else if(e.key==='0'){x=0;w=W;draw();}else{return;}e.preventDefault();});
svg.addEventListener('wheel',function(e){var r=svg.getBoundingClientRect();
zoom(e.deltaY<0?1.25:0.8,x+(e.clientX-r.left)/r.width*w);e.preventDefault();},{passive:false});
draw();})();
)";

}  // namespace

std::string report_html(const trace::Trace& t, const TraceSummary& s) {
  const rules::Recorder& r = *s.tables;
  const int nodes = s.nodes;
  std::string h;
  h.reserve(64 << 10);
  h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
       "<title>numa-trace report: " +
       esc(t.path) +
       "</title>\n<script>window.addEventListener('error',function(e){document.body.dataset.errors="
       "(document.body.dataset.errors||'')+e.message+';';});</script>\n<style>" +
       kStyle + "</style></head>\n<body data-errors=\"\">\n";
  // Patterns shared by every SVG: hatching for unknown or absent pages.
  h += "<svg width=\"0\" height=\"0\" style=\"position:absolute\" aria-hidden=\"true\"><defs><pattern id=\"unknown\" "
       "width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\"><rect width=\"4\" height=\"4\" fill=\"#ddd\"/><path "
       "d=\"M0,4 L4,0\" stroke=\"#888\" stroke-width=\"1\"/></pattern></defs></svg>\n";

  h += "<header><h1>numa-trace report</h1><p>trace <span class=\"mono\">" + esc(t.path) + "</span>: pid " +
       std::to_string(t.header.pid) + ", " + std::to_string(t.events.size()) + " events over " +
       num(static_cast<double>(s.last_ns - s.first_ns) / 1e6, 1) + " ms" +
       (t.complete ? "" : " <strong>(cut short: no summary record)</strong>") + "</p>";
  if (!s.model_path.empty())
    h += "<p>model <span class=\"mono\">" + esc(s.model_path) + "</span> (" + std::to_string(r.n_files) + " files)</p>";
  h += "<p class=\"legend\" aria-label=\"node colours\">";
  for (int n = 0; n < nodes; ++n)
    h += "<span><span class=\"swatch\" style=\"background:" + colour(n) + "\"></span>node " + std::to_string(n) +
         "</span>";
  h += "<span><svg class=\"swatch\" viewBox=\"0 0 12 12\"><rect width=\"12\" height=\"12\" fill=\"" +
       std::string(kUnknown) + "\"/></svg>unknown or absent</span></p>";
  h += "<nav><a href=\"#findings\">findings</a><a href=\"#mappings\">mappings</a><a href=\"#files\">files</a><a "
       "href=\"#heatmap\">placement</a><a href=\"#tensors\">tensors</a><a href=\"#remote\">remote reads</a><a "
       "href=\"#timeline\">timeline</a></nav></header>\n";

  // Findings, with the catalog's explanation and fix.
  h += "<section id=\"findings\"><h2>Findings</h2>";
  if (s.by_code.empty()) h += "<p>none</p>";
  for (const auto& [code, g] : s.by_code) {
    const rules::CodeInfo& ci = rules::code_info(g.first->finding.code);
    const char* sev = ci.severity == rules::kError ? "error" : ci.severity == rules::kWarning ? "warning" : "info";
    const char* sev_word = rules::is_advice(g.first->finding.code) ? "advice" : sev;
    h += "<article class=\"finding sev-" + std::string(sev) + "\" data-code=\"" + esc(code) + "\" data-count=\"" +
         std::to_string(g.count) + "\"><h3>" + esc(code) + " " + esc(ci.title) + " <span class=\"small\">(" + sev_word +
         ", " + std::to_string(g.count) + "&times;" +
         (g.replay_only ? ", " + std::to_string(g.replay_only) + " found on replay" : "") +
         ")</span></h3><p class=\"mono first\">" + esc(g.first->text) + "</p>";
    if (ci.explanation[0]) h += "<details><summary>Cause and fix</summary><p>" + esc(ci.explanation) + "</p></details>";
    h += "</article>";
  }
  h += "</section>\n";

  // The crash, and the resolve its thread had in flight.
  if (t.crash) {
    const nt_fr_crash& c = *t.crash;
    h += "<section id=\"crash\" class=\"crash\"><h2>Crash</h2><p>" + esc(postmortem::signal_text(c.signal)) +
         " at fault address <span class=\"mono\">" + hex(c.fault_address) + "</span> in thread " +
         std::to_string(c.tid) + " (" + std::to_string(c.n_pcs) + " frames captured; the core has the rest)</p>";
    const nt_fr_event* last = nullptr;
    for (const auto& e : t.events)
      if (e.tid == c.tid && e.seq <= c.seq && e.type != NT_EV_FINDING && e.type != NT_EV_CRASH &&
          e.type != NT_EV_PLACEMENT)
        last = &e;
    if (last && last->type == NT_EV_RESOLVE)
      h += "<p id=\"in-flight\">In flight: the resolve of <span class=\"mono\">'" +
           esc(std::string(last->name, strnlen(last->name, NT_FR_NAME))) + "'</span> (file " +
           std::to_string(last->file_idx) + ", offset <span class=\"mono\">" + hex(last->a) + "</span>, " +
           std::to_string(last->b) + " bytes) through slot " + std::to_string(last->slot) + ", address " +
           "<span class=\"mono\">" + hex(last->c) +
           "</span>. <span class=\"small\">numa-trace postmortem CORE "
           "decodes the core.</span></p>";
    else
      h += "<p class=\"muted\">No resolve was in flight in that thread.</p>";
    h += "</section>\n";
  }

  // Mappings.
  h += "<section id=\"mappings\"><h2>Mappings</h2>";
  if (rules::mapping_count(r) == 0)
    h += "<p>none: the splits were read into the program's memory (no mmap)</p>";
  else
    h += "<table><thead><tr><th class=\"r\">slot</th><th>kind</th><th class=\"r\">node</th><th>base</th><th "
         "class=\"r\">size</th><th>state</th><th>placement (sampled pages)</th><th>files</th></tr></thead><tbody>";
  for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
    const auto& m = r.mappings[i];
    std::string files;
    for (int32_t f : s.files_of(m))
      files += "<span class=\"mapped-file\" data-file-idx=\"" + std::to_string(f) + "\">" + std::to_string(f) +
               (s.path_of(f).empty() ? "" : " <span class=\"small mono\">" + esc(s.path_of(f)) + "</span>") +
               "</span><br>";
    h += "<tr class=\"mapping\" data-slot=\"" + std::to_string(m.slot) + "\" data-kind=\"" + format::kind_name(m.kind) +
         "\" data-base=\"" + hex(m.base) + "\" data-length=\"" + std::to_string(m.length) + "\" data-node=\"" +
         std::to_string(m.node) + "\" data-state=\"" + format::state_name(m.state) + "\"><td class=\"r\">" +
         std::to_string(m.slot) + "</td><td>" + format::kind_name(m.kind) + "</td><td class=\"r\">" +
         (m.node >= 0 ? std::to_string(m.node) : "-") + "</td><td class=\"mono\">" + hex(m.base) +
         "</td><td class=\"r\">" + human_bytes(m.length) + "</td><td>" + format::state_name(m.state) + "</td><td>" +
         placement_bar(m.placement, m.placement_sampled, m.placement_absent, nodes) + "</td><td>" + files +
         "</td></tr>";
  }
  if (rules::mapping_count(r)) h += "</tbody></table>";
  h += "</section>\n";

  // Files.
  h += "<section id=\"files\"><h2>Files</h2><ul>";
  for (const auto& [f, path] : s.file_paths)
    h += "<li class=\"file\" data-file-idx=\"" + std::to_string(f) + "\" data-path=\"" + esc(path) + "\">file " +
         std::to_string(f) + ": <span class=\"mono\">" + esc(path) + "</span></li>";
  if (s.file_paths.empty()) h += "<li class=\"muted\">no file open was recorded</li>";
  h += "</ul></section>\n";

  // Placement heatmap: one row per (mapping, file), one column per node.
  struct Row {
    std::string label;
    const uint32_t* hist;
    uint32_t sampled, absent;
    int intended;
  };
  std::vector<Row> rows;
  for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
    const auto& m = r.mappings[i];
    std::string where = std::string(format::kind_name(m.kind)) + ", slot " + std::to_string(m.slot) +
                        (m.kind == NT_KIND_REPLICA ? ", for node " + std::to_string(m.node) : "");
    if (!m.n_extents) {
      rows.push_back({"file " + std::to_string(m.slot) + " (" + where + ")", m.placement, m.placement_sampled,
                      m.placement_absent, m.node});
      continue;
    }
    for (uint32_t k = 0; k < m.n_extents && m.first_extent + k < NT_FR_MAX_EXTENTS; ++k) {
      const auto& x = r.extents[m.first_extent + k];
      rows.push_back({"file " + std::to_string(x.file_idx) + " (" + where + ")", x.placement, x.placement_sampled,
                      x.placement_absent, m.node});
    }
  }
  h += "<section id=\"heatmap\"><h2>Placement: files &times; nodes</h2>";
  if (rows.empty())
    h += "<p>no mapping</p>";
  else {
    const int cell = 56, label = 300, rh = 22;
    const int width = label + cell * (nodes + 1), height = rh * (static_cast<int>(rows.size()) + 1);
    h += "<div class=\"figure\"><svg viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
         "\" width=\"" + std::to_string(width) +
         "\" role=\"img\" aria-label=\"share of each file's sampled pages on "
         "each node\">";
    for (int n = 0; n <= nodes; ++n)
      h += "<text x=\"" + std::to_string(label + cell * n + cell / 2) +
           "\" y=\"15\" text-anchor=\"middle\" "
           "font-size=\"12\">" +
           (n < nodes ? "node " + std::to_string(n) : std::string("absent")) + "</text>";
    for (size_t k = 0; k < rows.size(); ++k) {
      const Row& row = rows[k];
      const int y = rh * static_cast<int>(k + 1);
      h += "<text x=\"0\" y=\"" + std::to_string(y + 15) + "\" font-size=\"12\">" + esc(row.label) + "</text>";
      for (int n = 0; n <= nodes; ++n) {
        const uint32_t pages = n < nodes ? row.hist[n] : row.absent;
        const double share = row.sampled ? static_cast<double>(pages) / row.sampled : 0;
        const bool intended = n == row.intended;
        h += "<g><title>" + esc(row.label) + ": " + (n < nodes ? "node " + std::to_string(n) : "absent") + " " +
             num(100 * share, 0) + "% of " + std::to_string(row.sampled) + " sampled pages" +
             (intended ? " (its intended node)" : "") + "</title><rect x=\"" + std::to_string(label + cell * n) +
             "\" y=\"" + std::to_string(y + 1) + "\" width=\"" + std::to_string(cell - 2) + "\" height=\"" +
             std::to_string(rh - 2) + "\" fill=\"" + (n < nodes ? colour(n) : kUnknown) + "\" fill-opacity=\"" +
             num(row.sampled ? 0.08 + 0.92 * share : 0.05, 2) + "\"" +
             (intended ? " stroke=\"#000\" stroke-width=\"2\" stroke-dasharray=\"4 2\"" : "") + "/><text x=\"" +
             std::to_string(label + cell * n + cell / 2 - 1) + "\" y=\"" + std::to_string(y + 15) +
             "\" text-anchor=\"middle\" font-size=\"11\">" + (row.sampled ? num(100 * share, 0) + "%" : "-") +
             "</text></g>";
      }
    }
    h += "</svg></div><p class=\"small\">Cell darkness is the share of the row's sampled pages on that node; a dashed "
         "outline marks the node a replica was meant for.</p>";
  }
  h += "</section>\n";

  // Per-tensor strip: wanted node (the replica's, else the resolving
  // thread's) over observed node (the node of the tensor's first page).
  std::vector<const nt_fr_event*> resolves;
  for (const auto& e : t.events)
    if (e.type == NT_EV_RESOLVE) resolves.push_back(&e);
  h += "<section id=\"tensors\"><h2>Tensors: wanted node over observed node</h2>";
  if (resolves.empty())
    h += "<p>no resolve</p>";
  else {
    const size_t n = resolves.size();
    const double w = std::max(2.0, std::min(12.0, 1100.0 / static_cast<double>(n)));
    const int width = static_cast<int>(w * static_cast<double>(n)) + 2;
    size_t mismatches = 0;
    std::string body;
    for (size_t k = 0; k < n; ++k) {
      const nt_fr_event& e = *resolves[k];
      int wanted = e.node;
      const int mi = rules::resolved_through(r, e);
      if (mi >= 0 && r.mappings[mi].kind == NT_KIND_REPLICA && r.mappings[mi].node >= 0) wanted = r.mappings[mi].node;
      const int seen = e.page_node;
      const bool differs = wanted >= 0 && seen >= 0 && wanted != seen;
      mismatches += differs;
      const std::string x = num(w * static_cast<double>(k), 2), ww = num(std::max(1.0, w - 0.5), 2);
      body += "<g class=\"tensor\"><title>" + esc(std::string(e.name, strnlen(e.name, NT_FR_NAME))) + ": file " +
              std::to_string(e.file_idx) + ", " + std::to_string(e.b) + " bytes; wanted " + node_text(wanted) +
              ", observed " + node_text(seen) + (differs ? " (differs)" : "") + "</title><rect x=\"" + x +
              "\" y=\"0\" width=\"" + ww + "\" height=\"18\" fill=\"" + colour(wanted) + "\"/><rect x=\"" + x +
              "\" y=\"20\" width=\"" + ww + "\" height=\"18\" fill=\"" + colour(seen) + "\"/>" +
              (differs ? "<rect x=\"" + x + "\" y=\"40\" width=\"" + ww + "\" height=\"5\" fill=\"#b00020\"/>" : "") +
              "</g>";
    }
    h += "<p>" + std::to_string(n) + " tensors in resolve order; " + std::to_string(mismatches) +
         " observed on another node than wanted (marked below the strip).</p><div class=\"figure\"><svg viewBox=\"0 "
         "0 " +
         std::to_string(width) + " 46\" width=\"" + std::to_string(width) +
         "\" role=\"img\" aria-label=\"each tensor's wanted and observed node\">" + body + "</svg></div>";
  }
  h += "</section>\n";

  // Remote reads (NT015's numbers).
  const rules::RemoteTotals rt = rules::remote_totals(r, *s.remote);
  h += "<section id=\"remote\"><h2>Remote reads</h2>";
  if (!rt.bytes && !rt.not_sampled && !rt.unknown_node) {
    h += "<p>no resolve with a known placement</p>";
  } else {
    h += "<p>" + num(rt.bytes ? 100.0 * static_cast<double>(rt.remote) / static_cast<double>(rt.bytes) : 0, 0) +
         "% of " + human_bytes(rt.bytes) + " resolved on another node than the resolving thread's (NT015 at " +
         std::to_string(s.remote_threshold_pct) +
         "%).</p><table><thead><tr><th>file</th><th>mapping</th><th>read "
         "by</th><th class=\"r\">bytes</th><th class=\"r\">remote</th><th>pages mostly on</th></tr></thead><tbody>";
    rules::for_each_remote_cell(r, *s.remote, [&](const rules::RemoteCell& c) {
      const auto& m = r.mappings[c.mapping];
      h += "<tr class=\"remote\" data-file-idx=\"" + std::to_string(c.file_idx) + "\" data-reader-node=\"" +
           std::to_string(c.reader_node) + "\"><td>" + std::to_string(c.file_idx) + "</td><td>" +
           format::kind_name(m.kind) + " slot " + std::to_string(m.slot) +
           (m.kind == NT_KIND_REPLICA ? " (node " + std::to_string(m.node) + ")" : "") + "</td><td>" +
           node_text(c.reader_node) + "</td><td class=\"r\">" + human_bytes(c.bytes) + "</td><td class=\"r\">" +
           (c.sampled && c.reader_node >= 0
                ? num(100.0 * static_cast<double>(c.remote) / static_cast<double>(c.bytes), 0) + "%"
                : std::string("?")) +
           "</td><td>" + (c.home_node >= 0 ? node_text(c.home_node) : std::string("not sampled")) + "</td></tr>";
    });
    h += "</tbody></table>";
  }
  h += "</section>\n";

  // Timeline: one lane per thread.
  std::map<uint32_t, int> lanes;
  for (const auto& e : t.events)
    if (e.type != NT_EV_PLACEMENT && e.type != NT_EV_FINDING) lanes.emplace(e.tid, 0);
  int lane = 0;
  for (auto& [tid, l] : lanes) l = lane++;
  h += "<section id=\"timeline\"><h2>Timeline</h2>";
  if (lanes.empty()) {
    h += "<p>no event</p>";
  } else {
    const double span = static_cast<double>(std::max<uint64_t>(s.last_ns - s.first_ns, 1));
    const int W = 1000, label = 90, lh = 24;
    const int H = lh * static_cast<int>(lanes.size()) + 20;
    h += "<p class=\"controls\"><button id=\"tl-in\" type=\"button\">zoom in (+)</button><button id=\"tl-out\" "
         "type=\"button\">zoom out (&minus;)</button><button id=\"tl-reset\" type=\"button\">reset (0)</button> "
         "<span class=\"small\">zoom <span id=\"tl-zoom\">1.0x</span>; with the timeline focused: + &minus; "
         "&larr; &rarr; 0, or the wheel</span></p><div class=\"figure\"><svg id=\"tl\" tabindex=\"0\" viewBox=\"0 0 " +
         std::to_string(W + label) + " " + std::to_string(H) +
         "\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"events per thread over time\">";
    for (const auto& [tid, l] : lanes)
      h += "<text x=\"2\" y=\"" + std::to_string(l * lh + 16) + "\" font-size=\"11\">thread " + std::to_string(tid) +
           "</text><line x1=\"" + std::to_string(label) + "\" x2=\"" + std::to_string(W + label) + "\" y1=\"" +
           std::to_string(l * lh + 12) + "\" y2=\"" + std::to_string(l * lh + 12) + "\" stroke=\"#ddd\"/>";
    for (const auto& e : t.events) {
      if (!lanes.count(e.tid)) continue;
      const double x = label + W * static_cast<double>(t.ns(e.tsc) - s.first_ns) / span;
      const int y = lanes[e.tid] * lh;
      const char* fill = "#555";
      std::string what = format::event_name(e.type) ? format::event_name(e.type) : "event";
      switch (e.type) {
        case NT_EV_RESOLVE:
          fill = e.node >= 0 && e.node < NT_FR_MAX_NODES ? kNodeColour[e.node] : "#999";
          what += " '" + std::string(e.name, strnlen(e.name, NT_FR_NAME)) + "' file " + std::to_string(e.file_idx) +
                  " slot " + std::to_string(e.slot) + " on " + node_text(e.node);
          break;
        case NT_EV_CREATE:
          fill = "#009E73";
          what += " slot " + std::to_string(e.slot);
          break;
        case NT_EV_DESTROY:
          fill = "#D55E00";
          what += " slot " + std::to_string(e.slot);
          break;
        case NT_EV_UNMAP: fill = "#CC79A7"; break;
        case NT_EV_CRASH: fill = "#b00020"; break;
        default: break;
      }
      const bool big = e.type == NT_EV_CRASH || e.type == NT_EV_MODEL_BEGIN || e.type == NT_EV_MODEL_END;
      h += "<rect class=\"ev\" x=\"" + num(x, 2) + "\" y=\"" + std::to_string(y + (big ? 2 : 5)) +
           "\" width=\"0.8\" height=\"" + (big ? "20" : "14") + "\" fill=\"" + fill + "\"><title>" +
           num(static_cast<double>(t.ns(e.tsc) - s.first_ns) / 1e6, 3) + " ms: " + esc(what) + "</title></rect>";
    }
    h += "</svg></div>";
  }
  h += "</section>\n<footer class=\"small\">numa-trace report --html; colours: Okabe-Ito.</footer>\n<script>" +
       std::string(kScript) + "</script>\n</body></html>\n";
  return h;
}

}  // namespace numatrace::cli
