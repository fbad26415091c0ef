#pragma once
// `herd report`: renders one or more run directories (log.jsonl from herd train) into a single
// self-contained HTML page with hand-written SVG plots: loss curves, MaxVio per step for every
// run (arm), a layer x expert load heatmap (N * f_i at the last step; 1 = fair share), expert
// fractions over time (stacked, per layer) and a summary table.
#include <string>
#include <vector>

namespace herd::train {

struct RunSummaryRow {
  std::string name;
  double val_loss = -1, final_loss = 0, max_vio_batch = 0, max_vio_global = -1, cv_global = -1, tokens_per_s = 0;
  double dead_global = -1, seconds = 0;
  int64_t steps = 0;
};

// Reads the summary of a run directory (the last "summary" and "eval" records of log.jsonl).
RunSummaryRow summarize_run(const std::string& run_dir, const std::string& name);

// Writes the HTML report for the runs (names label them; empty: directory names).
void write_report(const std::vector<std::string>& run_dirs, const std::vector<std::string>& names,
                  const std::string& out_html, const std::string& title);

}  // namespace herd::train
