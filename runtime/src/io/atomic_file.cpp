// write_file_atomically: temporary file, flush, rename.
#include "io/atomic_file.hpp"

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

}  // namespace clnn::detail
