// herd report: render training runs (log.jsonl) into one HTML page with SVG plots.
#include <cstdio>

#include "command.h"
#include "train/report.h"

namespace herd::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> runs, names;
  std::string out, title = "herd training report";
};

CommandRegistrar reg(94, [](CLI::App& root) {
  auto a = std::make_shared<ReportArgs>();
  auto* sub = root.add_subcommand("report", "render training run directories into an HTML report with SVG plots");
  sub->add_option("runs", a->runs, "run directories (herd train -o)")->required()->check(CLI::ExistingDirectory);
  sub->add_option("-o,--out", a->out, "output HTML file (default: RUN/report.html of the first run)");
  sub->add_option("--names", a->names, "labels for the runs");
  sub->add_option("--title", a->title, "page title")->capture_default_str();
  sub->callback([a] {
    const std::string out = a->out.empty() ? a->runs[0] + "/report.html" : a->out;
    herd::train::write_report(a->runs, a->names, out, a->title);
    std::printf("wrote %s\n", out.c_str());
  });
});

}  // namespace
}  // namespace herd::cli
