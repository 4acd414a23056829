// Whole-file reads; write_file_atomically: temporary file, flush, rename.
#include "io/files.hpp"

#include <fstream>
#include <random>

#include "clnn/error.hpp"

namespace clnn::detail {

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           const std::function<void()>& before_rename) {
  std::filesystem::path temp = path;
  temp += ".tmp" + std::to_string(std::random_device{}());
  auto discard = [&] {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
  };
  try {
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      if (!out) throw IoError(temp.string(), "cannot create the file");
      out.write(bytes.data(), std::streamsize(bytes.size()));
      if (!out.flush())
        throw IoError(temp.string(), "cannot write " + std::to_string(bytes.size()) + " bytes");
    }
    if (before_rename) before_rename();
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    if (ec)
      throw IoError(path.string(),
                    "cannot rename " + temp.string() + " into place: " + ec.message());
  } catch (...) {
    discard();
    throw;
  }
}

std::string read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(path.string(), "cannot read: " + ec.message());
  if (size > max_bytes)
    throw IoError(path.string(), "larger than " + std::to_string(max_bytes) + " bytes");
  std::string bytes(size, '\0');
  std::ifstream in(path, std::ios::binary);
  if (!in.read(bytes.data(), std::streamsize(size))) throw IoError(path.string(), "cannot read");
  return bytes;
}

}  // namespace clnn::detail
