// clnn-bench SUITE [--sizes a,b,...] [--json FILE] [--device SPEC]: a table on stdout and, with
// --json, one object per measurement with its parameters, clnn's figure and the peer's.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "bench.hpp"

namespace clnn::bench {

double median_seconds(const Context& ctx, const std::function<void()>& enqueue, int runs) {
  enqueue();  // warm-up: builds programs, touches memory
  ctx.finish();
  // Enough calls per run that one run takes about 50 ms.
  auto start = std::chrono::steady_clock::now();
  enqueue();
  ctx.finish();
  double once = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int repeat = std::clamp(int(0.05 / std::max(once, 1e-7)), 1, 1000);
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < repeat; ++i) enqueue();
    ctx.finish();
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeat);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace clnn::bench

namespace {

const char* kUsage =
    "usage: clnn-bench SUITE...|--all [--sizes a,b,...] [--json FILE] [--device SPEC]\n"
    "                  [--data DIR] [--steps N] [--layers a,b,...]\n"
    "suites: matmul (clnn's tiled SGEMM and CLBlast, square fp32)\n"
    "        conv   (convolution layers, forward and forward + backward)\n"
    "        train  (Fashion-MNIST, the large model, batch 128: images/s)\n"
    "        elementwise (copy, axpy, relu: GB/s)\n";

using Suite = std::vector<clnn::bench::Record> (*)(const clnn::Context&,
                                                   const clnn::bench::Options&);
const std::map<std::string, Suite> kSuites{
    {"conv", clnn::bench::conv_suite},
    {"elementwise", clnn::bench::elementwise_suite},
    {"matmul", clnn::bench::matmul_suite},
    {"train", clnn::bench::train_suite},
};

std::vector<std::int64_t> parse_sizes(const std::string& text) {
  std::vector<std::int64_t> sizes;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    std::size_t used = 0;
    long long value = std::stoll(item, &used);
    if (used != item.size() || value <= 0) throw std::invalid_argument(item);
    sizes.push_back(value);
  }
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> suites;
  std::string json_path, device;
  clnn::bench::Options options;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--sizes")
        options.sizes = parse_sizes(value());
      else if (arg == "--json")
        json_path = value();
      else if (arg == "--device")
        device = value();
      else if (arg == "--data")
        options.data_dir = value();
      else if (arg == "--layers")
        options.layers = parse_sizes(value());
      else if (arg == "--steps")
        options.steps = parse_sizes(value()).at(0);
      else if (arg == "--all")
        for (const auto& [name, run] : kSuites) suites.push_back(name);
      else if (arg == "--help" || arg == "-h")
        return std::cout << kUsage, 0;
      else if (kSuites.count(arg))
        suites.push_back(arg);
      else
        throw std::invalid_argument("unknown suite or option '" + arg + "'");
    }
    if (suites.empty()) throw std::invalid_argument("no suite named");
  } catch (const std::exception& e) {
    std::cerr << "clnn-bench: " << e.what() << "\n" << kUsage;
    return 2;
  }
  try {
    clnn::Context ctx = device.empty() ? clnn::Context::create() : clnn::Context::create(device);
    fmt::print("device: {}\n", ctx.device().label());
    nlohmann::json all = nlohmann::json::array();
    for (const auto& suite : suites) {
      fmt::print("\n[{}]\n", suite);
      auto records = kSuites.at(suite)(ctx, options);
      for (auto& r : records) {
        r["suite"] = suite;
        r["device"] = ctx.device().name;
        all.push_back(r);
      }
    }
    if (!json_path.empty()) {
      std::ofstream out(json_path);
      out << all.dump(2) << "\n";
      if (!out) throw clnn::IoError(json_path, "cannot write the results");
    }
  } catch (const std::exception& e) {
    std::cerr << "clnn-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
