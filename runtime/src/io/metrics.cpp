// Metrics CSV and the SVG picture of the training curves.
#include "io/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "clnn/error.hpp"
#include "files.hpp"

namespace clnn::detail {

namespace {

constexpr const char* kHeader =
    "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second";

std::string short_number(double v) {
  std::ostringstream out;
  out << std::setprecision(3) << v;
  return out.str();
}

// One panel: a series per (label, colour, values) over epochs, scaled into the box at (x0, y0).
void panel(std::ostringstream& svg, double x0, double y0, const char* title,
           const std::vector<train::EpochMetrics>& h,
           const std::vector<std::pair<const char*, double train::EpochMetrics::*>>& series,
           const char* const* colours) {
  const double w = 360, ht = 220;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (const auto& m : h) lo = std::min(lo, m.*(s.second)), hi = std::max(hi, m.*(s.second));
  if (!(hi > lo)) hi = lo + 1;
  svg << "<g transform='translate(" << x0 << "," << y0 << ")'>\n"
      << "<text x='" << w / 2 << "' y='-10' text-anchor='middle' font-size='14'>" << title
      << "</text>\n"
      << "<rect width='" << w << "' height='" << ht << "' fill='none' stroke='#888'/>\n"
      << "<text x='-6' y='10' text-anchor='end' font-size='10'>" << short_number(hi)
      << "</text>\n<text x='-6' y='" << ht << "' text-anchor='end' font-size='10'>"
      << short_number(lo) << "</text>\n<text x='0' y='" << ht + 14
      << "' text-anchor='middle' font-size='10'>" << h.front().epoch << "</text>\n<text x='" << w
      << "' y='" << ht + 14 << "' text-anchor='middle' font-size='10'>" << h.back().epoch
      << "</text>\n"
      << "<text x='" << w / 2 << "' y='" << ht + 24
      << "' text-anchor='middle' font-size='11'>epoch</text>\n";
  const double span = std::max<double>(1, double(h.size() - 1));
  for (std::size_t s = 0; s < series.size(); ++s) {
    svg << "<polyline fill='none' stroke='" << colours[s] << "' stroke-width='2' points='";
    for (std::size_t i = 0; i < h.size(); ++i)
      svg << (h.size() == 1 ? w / 2 : double(i) / span * w) << ","
          << ht - (h[i].*(series[s].second) - lo) / (hi - lo) * ht << " ";
    svg << "'/>\n<text x='" << w - 4 << "' y='" << 16 + 14 * double(s)
        << "' text-anchor='end' font-size='11' fill='" << colours[s] << "'>" << series[s].first
        << "</text>\n";
  }
  svg << "</g>\n";
}

}  // namespace

std::string svg_path(const std::string& csv_path) {
  return std::filesystem::path(csv_path).replace_extension(".svg").string();
}

std::string training_curves_svg(const std::vector<train::EpochMetrics>& h) {
  static const char* colours[] = {"#1f77b4", "#d62728"};
  if (h.empty()) return "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>\n";
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='930' height='300' "
         "font-family='sans-serif'>\n"
      << "<rect width='100%' height='100%' fill='white'/>\n";
  using M = train::EpochMetrics;
  panel(svg, 70, 40, "loss", h, {{"train", &M::train_loss}, {"test", &M::test_loss}}, colours);
  panel(svg, 520, 40, "accuracy", h, {{"train", &M::train_accuracy}, {"test", &M::test_accuracy}},
        colours);
  svg << "</svg>\n";
  return svg.str();
}

void write_metrics(const std::string& csv_path, const std::vector<train::EpochMetrics>& history) {
  std::ostringstream csv;
  csv << kHeader << "\n";
  csv.precision(8);
  for (const auto& m : history)
    csv << m.epoch << "," << m.lr << "," << m.train_loss << "," << m.train_accuracy << ","
        << m.test_loss << "," << m.test_accuracy << "," << m.seconds << "," << m.images_per_second
        << "\n";
  write_file_atomically(csv_path, csv.str());
  write_file_atomically(svg_path(csv_path), training_curves_svg(history));
}

std::vector<train::EpochMetrics> read_metrics_csv(const std::string& csv_path, std::int64_t last) {
  std::vector<train::EpochMetrics> rows;
  std::ifstream in(csv_path);
  if (!in) return rows;
  std::string line;
  if (!std::getline(in, line) || line != kHeader)
    throw IoError(csv_path, "not a clnn metrics file");
  while (std::getline(in, line)) {
    train::EpochMetrics m;
    char comma;
    std::istringstream fields(line);
    fields >> m.epoch >> comma >> m.lr >> comma >> m.train_loss >> comma >> m.train_accuracy >>
        comma >> m.test_loss >> comma >> m.test_accuracy >> comma >> m.seconds >> comma >>
        m.images_per_second;
    if (!fields) throw IoError(csv_path, "bad row: " + line);
    if (m.epoch <= last) rows.push_back(m);
  }
  return rows;
}

}  // namespace clnn::detail
