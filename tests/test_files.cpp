// Output files: atomic writes replace only regular files (through links), and check_writable
// finds unwritable paths before any work.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "clnn/error.hpp"
#include "clnn/files.hpp"
#include "files.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

using clnn::test::read_bytes;
using clnn::test::TempDir;

TEST_CASE("atomic writes replace regular files and follow links to them", "[files]") {
  TempDir t("files");
  const fs::path file = t.dir / "out.csv";
  clnn::detail::write_file_atomically(file, "one");
  CHECK(read_bytes(file) == "one");
  clnn::detail::write_file_atomically(file, "two");
  CHECK(read_bytes(file) == "two");

  // A link stays a link; the file it leads to (relative to the link's folder) is replaced.
  fs::create_directories(t.dir / "real");
  fs::create_symlink("real/target.csv", t.dir / "link.csv");
  clnn::detail::write_file_atomically(t.dir / "link.csv", "through");
  CHECK(fs::is_symlink(t.dir / "link.csv"));
  CHECK(read_bytes(t.dir / "real" / "target.csv") == "through");
  fs::create_symlink("link.csv", t.dir / "link2.csv");  // a chain of links
  clnn::detail::write_file_atomically(t.dir / "link2.csv", "chained");
  CHECK(fs::is_symlink(t.dir / "link2.csv"));
  CHECK(read_bytes(t.dir / "real" / "target.csv") == "chained");
  CHECK_NOTHROW(clnn::check_writable((t.dir / "link2.csv").string()));
  // No temporary file is left behind.
  std::size_t files = 0;
  for (auto& entry : fs::recursive_directory_iterator(t.dir))
    files += entry.is_regular_file() && !entry.is_symlink();
  CHECK(files == 2);
}

TEST_CASE("a device, fifo, directory or link loop at the path is an IoError, left as it is",
          "[files][errors]") {
  TempDir t("files");
  const fs::path fifo = t.dir / "metrics.csv";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  fs::create_directories(t.dir / "folder");
  fs::create_symlink("loop_b", t.dir / "loop_a");
  fs::create_symlink("loop_a", t.dir / "loop_b");
  fs::create_symlink("metrics.csv", t.dir / "to_fifo");
  const std::vector<std::pair<fs::path, std::string>> refused{
      {fifo, "a fifo"},
      {t.dir / "to_fifo", "a fifo"},
      {t.dir / "folder", "a directory"},
      {"/dev/null", "a character device"},
      {t.dir / "loop_a", "symbolic links"},
      {t.dir / "no" / "such" / "folder" / "out.csv", "does not exist"}};
  for (const auto& [path, why] : refused) {
    INFO(path);
    CHECK_THROWS_WITH(clnn::detail::write_file_atomically(path, "x"),
                      Catch::Contains(path.string()) && Catch::Contains(why));
    CHECK_THROWS_AS(clnn::check_writable(path.string()), clnn::IoError);
  }
  CHECK(fs::is_fifo(fifo));
  CHECK(fs::is_character_file("/dev/null"));
  CHECK(fs::is_directory(t.dir / "folder"));
  CHECK_THROWS_AS(clnn::check_writable(""), clnn::IoError);
}

TEST_CASE("check_writable finds a folder that takes no new file", "[files][errors]") {
  // /proc takes no new files, not even from root (CI runs as root, where permissions pass).
  CHECK_THROWS_WITH(clnn::check_writable("/proc/clnn-metrics.csv"),
                    Catch::Contains("/proc/clnn-metrics.csv") &&
                        Catch::Contains("cannot be written"));
  CHECK_THROWS_WITH(clnn::detail::write_file_atomically("/proc/clnn-metrics.csv", "x"),
                    Catch::Contains("cannot create"));
}
