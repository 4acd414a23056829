// ProgramCache: memory hits, build errors with logs, and the disk cache across processes,
// including corrupted entries.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "context_impl.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using clnn::detail::Access;
using clnn::detail::KernelSource;
using clnn::detail::ProgramCache;
using clnn::test::context;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("clnn-test-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs clnn-cache-probe with the cache in dir; returns its "disk N source M" line.
std::string probe(const fs::path& dir) {
  // CLNN_CACHE_PROBE overrides the build-tree path (for a suite run from a copied bundle).
  const char* probe_path = std::getenv("CLNN_CACHE_PROBE");
  std::string command = "CLNN_CACHE_DIR='" + dir.string() + "' '" +
                        (probe_path ? probe_path : CLNN_CACHE_PROBE) + "'";
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char line[256];
  while (std::fgets(line, sizeof(line), pipe)) out += line;
  REQUIRE(pclose(pipe) == 0);
  return out;
}

std::vector<fs::path> entries(const fs::path& dir) {
  std::vector<fs::path> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) found.push_back(e.path());
  return found;
}

ProgramCache make_cache(std::optional<fs::path> dir) {
  auto& impl = Access::impl(context());
  return ProgramCache(impl.context.get(), impl.device, impl.info, std::move(dir));
}

}  // namespace

TEST_CASE("a program is built once and then served from memory", "[program_cache]") {
  auto cache = make_cache(std::nullopt);
  const auto& source = clnn::detail::embedded_kernel_source("elementwise");
  cl_program first = cache.get(source, "");
  CHECK(cache.get(source, "") == first);
  CHECK(cache.get(source, "-DVARIANT=2") != first);
  CHECK(cache.stats().source_builds == 2);
  CHECK(cache.stats().memory_hits == 1);
  CHECK(cache.stats().disk_loads == 0);
}

TEST_CASE("a kernel with a syntax error gives its build log", "[program_cache][errors]") {
  auto cache = make_cache(std::nullopt);
  std::string text = "__kernel void broken(__global float* x) { x[0] = 1.0f +; }\n";
  auto source = KernelSource::from_text("broken", text);
  try {
    cache.get(source, "");
    FAIL("expected a DeviceError");
  } catch (const clnn::DeviceError& e) {
    CHECK(e.code() == -11);  // CL_BUILD_PROGRAM_FAILURE
    CHECK_FALSE(e.build_log().empty());
    CHECK(std::string(e.what()).find("broken") != std::string::npos);
    CHECK(std::string(e.what()).find("CL_BUILD_PROGRAM_FAILURE") != std::string::npos);
    CHECK(std::string(e.what()).find(e.build_log()) != std::string::npos);
  }
}

TEST_CASE("the disk cache serves a second process", "[program_cache][cross-process]") {
  fs::path dir = fresh_dir("disk");
  CHECK(probe(dir) == "disk 0 source 1\n");
  REQUIRE(entries(dir).size() == 1);
  CHECK(probe(dir) == "disk 1 source 0\n");
  CHECK(entries(dir).size() == 1);  // no temporary files left behind
  fs::remove_all(dir);
}

TEST_CASE("a corrupted disk entry is ignored and rebuilt",
          "[program_cache][errors][cross-process]") {
  fs::path dir = fresh_dir("corrupt");
  REQUIRE(probe(dir) == "disk 0 source 1\n");
  fs::path entry = entries(dir).at(0);
  auto size = fs::file_size(entry);

  auto corrupt = [&](const std::string& how) {
    std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
    if (how == "flip-payload") {
      f.seekp(static_cast<std::streamoff>(size - size / 3));
      char c = 0;
      f.seekg(f.tellp());
      f.get(c);
      f.seekp(static_cast<std::streamoff>(size - size / 3));
      f.put(static_cast<char>(c ^ 0x5a));
    } else if (how == "flip-magic") {
      f.put('X');
    }
    f.close();
    if (how == "truncate") fs::resize_file(entry, size / 2);
    if (how == "empty") fs::resize_file(entry, 0);
  };

  for (const std::string how : {"flip-payload", "flip-magic", "truncate", "empty"}) {
    INFO(how);
    corrupt(how);
    CHECK(probe(dir) == "disk 0 source 1\n");  // rebuilt from source, entry rewritten
    CHECK(probe(dir) == "disk 1 source 0\n");  // and the rewritten entry is good
    REQUIRE(fs::file_size(entry) == size);
  }
  fs::remove_all(dir);
}

TEST_CASE("an unusable cache folder only turns the disk cache off", "[program_cache][errors]") {
  fs::path blocker = fresh_dir("blocked") / "file";
  std::ofstream(blocker) << "not a folder";
  auto cache = make_cache(blocker / "programs");
  CHECK_FALSE(cache.disk_enabled());
  CHECK(cache.get(clnn::detail::embedded_kernel_source("elementwise"), "") != nullptr);
  fs::remove_all(blocker.parent_path());
}
