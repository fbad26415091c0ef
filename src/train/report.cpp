#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace herd::train {

namespace {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                         "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"};

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

std::string num(double v, int prec = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", prec, v);
  return b;
}

std::vector<json> read_log(const std::string& dir) {
  const std::string p = (fs::path(dir) / "log.jsonl").string();
  std::ifstream f(p);
  if (!f) fail(dir, ": no log.jsonl (is this a herd train run directory?)");
  std::vector<json> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

std::vector<double> moving_average(const std::vector<double>& y, size_t w) {
  std::vector<double> o(y.size());
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    s += y[i];
    if (i >= w) s -= y[i - w];
    o[i] = s / static_cast<double>(std::min(i + 1, w));
  }
  return o;
}

// A line chart with axes, ticks and a legend.
std::string line_chart(const std::vector<Series>& ss, const std::string& title, const std::string& xl,
                       const std::string& yl, bool log_y = false) {
  const double W = 640, H = 320, L = 60, R = 150, T = 30, B = 45;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto ty = [&](double v) { return log_y ? std::log10(std::max(v, 1e-6)) : v; };
  for (auto& s : ss)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, ty(s.y[i]));
      y1 = std::max(y1, ty(s.y[i]));
    }
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' font-size='11'>";
  o << "<text x='" << W / 2 << "' y='16' text-anchor='middle' font-size='13'>" << esc(title) << "</text>";
  if (!std::isfinite(x0)) return o.str() + "<text x='60' y='60'>no data</text></svg>";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) { y1 += 0.5; y0 -= 0.5; }
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return T + (1 - (ty(y) - y0) / (y1 - y0)) * (H - T - B); };
  auto pyr = [&](double yt) { return T + (1 - (yt - y0) / (y1 - y0)) * (H - T - B); };
  o << "<rect x='" << L << "' y='" << T << "' width='" << W - L - R << "' height='" << H - T - B
    << "' fill='none' stroke='#444'/>";
  for (int i = 0; i <= 4; ++i) {
    const double yt = y0 + (y1 - y0) * i / 4, xt = x0 + (x1 - x0) * i / 4;
    o << "<line x1='" << L << "' x2='" << W - R << "' y1='" << pyr(yt) << "' y2='" << pyr(yt) << "' stroke='#ddd'/>";
    o << "<text x='" << L - 4 << "' y='" << pyr(yt) + 4 << "' text-anchor='end'>" << num(log_y ? std::pow(10, yt) : yt)
      << "</text>";
    o << "<text x='" << px(xt) << "' y='" << H - B + 14 << "' text-anchor='middle'>" << num(xt, 4) << "</text>";
  }
  o << "<text x='" << (L + W - R) / 2 << "' y='" << H - 8 << "' text-anchor='middle'>" << esc(xl) << "</text>";
  o << "<text x='14' y='" << (T + H - B) / 2 << "' text-anchor='middle' transform='rotate(-90 14 " << (T + H - B) / 2
    << ")'>" << esc(yl) << "</text>";
  for (size_t k = 0; k < ss.size(); ++k) {
    const auto& s = ss[k];
    std::ostringstream pts;
    for (size_t i = 0; i < s.x.size(); ++i)
      if (std::isfinite(s.y[i])) pts << px(s.x[i]) << "," << py(s.y[i]) << " ";
    const char* col = kColors[k % 16];
    o << "<polyline fill='none' stroke='" << col << "' stroke-width='1.5' points='" << pts.str() << "'/>";
    if (s.x.size() <= 30)
      for (size_t i = 0; i < s.x.size(); ++i)
        if (std::isfinite(s.y[i])) o << "<circle cx='" << px(s.x[i]) << "' cy='" << py(s.y[i]) << "' r='2.5' fill='" << col << "'/>";
    o << "<rect x='" << W - R + 10 << "' y='" << T + 14 * k << "' width='10' height='10' fill='" << col << "'/>";
    o << "<text x='" << W - R + 24 << "' y='" << T + 9 + 14 * k << "'>" << esc(s.name) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

// Diverging colour for N*f: blue below 1 (under-loaded), white at 1, red above.
std::string load_color(double v) {
  double t = std::log2(std::max(v, 1e-3));  // -inf..: 0 at fair share
  t = std::max(-2.0, std::min(2.0, t)) / 2.0;
  int r, g, b;
  if (t >= 0) { r = 255; g = b = static_cast<int>(255 * (1 - t)); }
  else { b = 255; r = g = static_cast<int>(255 * (1 + t)); }
  char s[16];
  std::snprintf(s, sizeof s, "#%02x%02x%02x", r, g, b);
  return s;
}

std::string heatmap(const std::vector<std::vector<double>>& rows, const std::vector<int>& layer_ids, const std::string& title) {
  const size_t n = rows.empty() ? 0 : rows[0].size();
  const double cw = std::max(18.0, std::min(40.0, 480.0 / std::max<size_t>(n, 1))), ch = 24, L = 70, T = 30;
  const double W = L + cw * n + 120, H = T + ch * rows.size() + 40;
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' font-size='11'>";
  o << "<text x='" << W / 2 << "' y='16' text-anchor='middle' font-size='13'>" << esc(title) << "</text>";
  for (size_t r = 0; r < rows.size(); ++r) {
    o << "<text x='" << L - 6 << "' y='" << T + ch * r + 16 << "' text-anchor='end'>layer " << layer_ids[r] << "</text>";
    for (size_t e = 0; e < n; ++e) {
      const double v = rows[r][e] * static_cast<double>(n);
      o << "<rect x='" << L + cw * e << "' y='" << T + ch * r << "' width='" << cw - 1 << "' height='" << ch - 1
        << "' fill='" << load_color(v) << "'><title>layer " << layer_ids[r] << " expert " << e << ": N*f = " << num(v)
        << "</title></rect>";
      if (cw >= 26) o << "<text x='" << L + cw * e + cw / 2 << "' y='" << T + ch * r + 15 << "' text-anchor='middle' font-size='9'>" << num(v, 2) << "</text>";
    }
  }
  for (size_t e = 0; e < n; ++e)
    o << "<text x='" << L + cw * e + cw / 2 << "' y='" << T + ch * rows.size() + 14 << "' text-anchor='middle'>" << e << "</text>";
  o << "<text x='" << L + cw * n / 2 << "' y='" << T + ch * rows.size() + 30 << "' text-anchor='middle'>expert</text>";
  const double lx = L + cw * n + 20;
  const double legend[] = {0.25, 0.5, 1, 2, 4};
  for (int i = 0; i < 5; ++i) {
    o << "<rect x='" << lx << "' y='" << T + 16 * i << "' width='14' height='14' fill='" << load_color(legend[i]) << "' stroke='#999'/>";
    o << "<text x='" << lx + 20 << "' y='" << T + 11 + 16 * i << "'>N*f = " << num(legend[i]) << "</text>";
  }
  o << "</svg>";
  return o.str();
}

std::string stacked(const std::vector<double>& steps, const std::vector<std::vector<double>>& frac, const std::string& title) {
  const double W = 640, H = 260, L = 50, R = 110, T = 30, B = 40;
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' font-family='sans-serif' font-size='11'>";
  o << "<text x='" << W / 2 << "' y='16' text-anchor='middle' font-size='13'>" << esc(title) << "</text>";
  if (steps.empty()) return o.str() + "</svg>";
  const size_t n = frac[0].size();
  const double x0 = steps.front(), x1 = std::max(steps.back(), x0 + 1);
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return T + (1 - y) * (H - T - B); };
  std::vector<double> base(steps.size(), 0.0);
  for (size_t e = 0; e < n; ++e) {
    std::ostringstream pts;
    for (size_t i = 0; i < steps.size(); ++i) pts << px(steps[i]) << "," << py(base[i] + frac[i][e]) << " ";
    for (size_t i = steps.size(); i-- > 0;) pts << px(steps[i]) << "," << py(base[i]) << " ";
    for (size_t i = 0; i < steps.size(); ++i) base[i] += frac[i][e];
    o << "<polygon points='" << pts.str() << "' fill='" << kColors[e % 16] << "' fill-opacity='0.85'/>";
    o << "<rect x='" << W - R + 10 << "' y='" << T + 13 * e << "' width='10' height='10' fill='" << kColors[e % 16] << "'/>";
    o << "<text x='" << W - R + 24 << "' y='" << T + 9 + 13 * e << "'>expert " << e << "</text>";
  }
  for (int i = 0; i <= 4; ++i) {
    o << "<text x='" << L - 4 << "' y='" << py(i / 4.0) + 4 << "' text-anchor='end'>" << num(i / 4.0) << "</text>";
    o << "<text x='" << px(x0 + (x1 - x0) * i / 4) << "' y='" << H - B + 14 << "' text-anchor='middle'>"
      << num(x0 + (x1 - x0) * i / 4, 4) << "</text>";
  }
  o << "<text x='" << (L + W - R) / 2 << "' y='" << H - 6 << "' text-anchor='middle'>step</text>";
  o << "</svg>";
  return o.str();
}

}  // namespace

RunSummaryRow summarize_run(const std::string& dir, const std::string& name) {
  RunSummaryRow r;
  r.name = name;
  for (const auto& j : read_log(dir)) {
    if (j.value("type", "") == "summary") {
      r.steps = j.value("steps_done", int64_t{0});
      r.final_loss = j.value("final_loss", 0.0);
      r.max_vio_batch = j.value("max_vio_batch_last", 0.0);
      r.tokens_per_s = j.value("tokens_per_s", 0.0);
      r.seconds = j.value("seconds", 0.0);
    }
    if (j.value("type", "") == "eval") {
      r.val_loss = j.value("val_loss", -1.0);
      r.max_vio_global = j.value("max_vio_global_mean", -1.0);
      r.cv_global = j.value("cv_global_mean", -1.0);
      r.dead_global = j.value("dead_global_total", -1.0);
    }
  }
  return r;
}

void write_report(const std::vector<std::string>& dirs, const std::vector<std::string>& names_in,
                  const std::string& out_html, const std::string& title) {
  if (dirs.empty()) fail("report: no run directories");
  std::vector<std::string> names = names_in;
  for (size_t i = names.size(); i < dirs.size(); ++i) names.push_back(fs::path(dirs[i]).filename().string());
  std::vector<std::vector<json>> logs;
  for (auto& d : dirs) logs.push_back(read_log(d));

  std::vector<Series> loss, val, mv;
  for (size_t k = 0; k < dirs.size(); ++k) {
    Series l{names[k] + " train", {}, {}}, v{names[k] + " val", {}, {}}, m{names[k], {}, {}};
    for (const auto& j : logs[k]) {
      const std::string t = j.value("type", "");
      if (t == "step") {
        l.x.push_back(j["step"].get<double>());
        l.y.push_back(j["ce"].get<double>());
        m.x.push_back(j["step"].get<double>());
        m.y.push_back(j["max_vio_mean"].get<double>());
      } else if (t == "eval") {
        v.x.push_back(j["step"].get<double>());
        v.y.push_back(j["val_loss"].get<double>());
      }
    }
    l.y = moving_average(l.y, 10);
    m.y = moving_average(m.y, 20);
    loss.push_back(l);
    if (!v.x.empty()) loss.push_back(v);
    mv.push_back(m);
  }
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>" << esc(title) << "</title><style>"
    << "body{font-family:sans-serif;max-width:1100px;margin:20px auto;color:#222}table{border-collapse:collapse}"
    << "td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}th{background:#eee}td:first-child{text-align:left}"
    << "figure{display:inline-block;margin:8px}</style></head><body>";
  h << "<h1>" << esc(title) << "</h1>";
  h << "<table><tr><th>run</th><th>steps</th><th>train CE (last)</th><th>val loss</th><th>MaxVio batch (last 10%)</th>"
       "<th>MaxVio global (val)</th><th>CV global</th><th>dead experts (val, all layers)</th><th>tokens/s</th><th>time (s)</th></tr>";
  for (size_t k = 0; k < dirs.size(); ++k) {
    RunSummaryRow r = summarize_run(dirs[k], names[k]);
    h << "<tr><td>" << esc(r.name) << "</td><td>" << r.steps << "</td><td>" << num(r.final_loss, 4) << "</td><td>"
      << (r.val_loss >= 0 ? num(r.val_loss, 4) : "-") << "</td><td>" << num(r.max_vio_batch) << "</td><td>"
      << (r.max_vio_global >= 0 ? num(r.max_vio_global) : "-") << "</td><td>" << (r.cv_global >= 0 ? num(r.cv_global) : "-")
      << "</td><td>" << (r.dead_global >= 0 ? num(r.dead_global) : "-") << "</td><td>" << num(r.tokens_per_s, 4)
      << "</td><td>" << num(r.seconds, 4) << "</td></tr>";
  }
  h << "</table><p>MaxVio = N&middot;max<sub>i</sub> f<sub>i</sub> &minus; 1 over routed experts (0 = balanced, N&minus;1 = "
       "collapsed), mean over MoE layers. Batch: per optimizer step; global: over the validation windows.</p>";
  h << "<figure>" << line_chart(loss, "loss (train: 10-step moving average)", "step", "cross-entropy (nats)") << "</figure>";
  h << "<figure>" << line_chart(mv, "MaxVio per step (20-step moving average)", "step", "MaxVio_batch") << "</figure>";
  for (size_t k = 0; k < dirs.size(); ++k) {
    // last step record: heatmap; all steps: stacked fractions per layer
    const json* last = nullptr;
    for (const auto& j : logs[k])
      if (j.value("type", "") == "step") last = &j;
    if (!last || (*last)["layers"].empty()) continue;
    h << "<h2>" << esc(names[k]) << "</h2>";
    std::vector<std::vector<double>> rows;
    std::vector<int> ids;
    for (const auto& L : (*last)["layers"]) {
      rows.push_back(L["frac"].get<std::vector<double>>());
      ids.push_back(L["layer"].get<int>());
    }
    h << "<figure>" << heatmap(rows, ids, "expert load N*f at the last step (1 = fair share)") << "</figure>";
    for (size_t li = 0; li < ids.size(); ++li) {
      std::vector<double> st;
      std::vector<std::vector<double>> fr;
      for (const auto& j : logs[k])
        if (j.value("type", "") == "step" && li < j["layers"].size()) {
          st.push_back(j["step"].get<double>());
          fr.push_back(j["layers"][li]["frac"].get<std::vector<double>>());
        }
      // thin to at most 300 points
      const size_t stride = std::max<size_t>(1, st.size() / 300);
      std::vector<double> s2;
      std::vector<std::vector<double>> f2;
      for (size_t i = 0; i < st.size(); i += stride) {
        s2.push_back(st[i]);
        f2.push_back(fr[i]);
      }
      h << "<figure>" << stacked(s2, f2, "expert token fractions, layer " + std::to_string(ids[li])) << "</figure>";
    }
  }
  h << "</body></html>\n";
  const std::string tmp = out_html + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) fail(tmp, ": cannot create");
    f << h.str();
    f.flush();
    if (!f) fail(tmp, ": write failed");
  }
  fs::rename(tmp, out_html);
}

}  // namespace herd::train
