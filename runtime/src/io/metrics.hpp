// Internal: the trainer's metrics files: a CSV with a row per epoch and an SVG of the curves.
#pragma once

#include <string>
#include <vector>

#include "clnn/train.hpp"

namespace clnn::detail {

// Where the curves of the CSV at csv_path go: the same name ending in .svg.
std::string svg_path(const std::string& csv_path);

// Writes the CSV at csv_path and the curves beside it (the same name ending in .svg).
void write_metrics(const std::string& csv_path, const std::vector<train::EpochMetrics>& history);

// The rows of an earlier run's CSV up to epoch `last` (none when there is no file).
std::vector<train::EpochMetrics> read_metrics_csv(const std::string& csv_path, std::int64_t last);

// The SVG document: loss and accuracy per epoch, train and test.
std::string training_curves_svg(const std::vector<train::EpochMetrics>& history);

}  // namespace clnn::detail
