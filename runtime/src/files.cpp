// Whole-file reads; write_file_atomically: temporary file, flush, rename, only over a regular
// file; check_writable: the same checks and a trial file, before long work.
#include "files.hpp"

#include <fstream>
#include <random>

#include "clnn/error.hpp"
#include "clnn/files.hpp"

namespace clnn::detail {

namespace fs = std::filesystem;

namespace {

// Symbolic links followed before giving up, as the kernel's ELOOP limit.
constexpr int kMaxLinks = 40;

const char* kind_name(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory: return "a directory";
    case fs::file_type::block: return "a block device";
    case fs::file_type::character: return "a character device";
    case fs::file_type::fifo: return "a fifo";
    case fs::file_type::socket: return "a socket";
    default: return "not a regular file";
  }
}

// A file beside `target` that no other writer picks.
fs::path temporary_beside(const fs::path& target) {
  fs::path temp = target;
  temp += ".tmp" + std::to_string(std::random_device{}());
  return temp;
}

void remove_quietly(const fs::path& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

// Creates `temp` holding `bytes`; IoError naming it when that fails.
void write_whole(const fs::path& temp, std::string_view bytes) {
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(temp.string(), "cannot create the file");
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out.flush())
    throw IoError(temp.string(), "cannot write " + std::to_string(bytes.size()) + " bytes");
}

}  // namespace

fs::path write_target(const fs::path& path) {
  fs::path target = path;
  for (int links = 0;; ++links) {
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(target, ec);
    if (status.type() == fs::file_type::not_found) break;
    if (ec) throw IoError(path.string(), "cannot inspect " + target.string() + ": " + ec.message());
    if (status.type() == fs::file_type::regular) break;
    if (status.type() != fs::file_type::symlink)
      throw IoError(path.string(), std::string("is ") + kind_name(status.type()) +
                                       ", not a regular file: it is left as it is");
    if (links == kMaxLinks) throw IoError(path.string(), "too many levels of symbolic links");
    const fs::path link = fs::read_symlink(target, ec);
    if (ec) throw IoError(path.string(), "cannot read the link " + target.string());
    target = link.is_absolute() ? link : target.parent_path() / link;
  }
  const fs::path folder = target.parent_path().empty() ? "." : target.parent_path();
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw IoError(path.string(), "the folder " + folder.string() + " does not exist");
  return target;
}

void write_file_atomically(const fs::path& path, std::string_view bytes,
                           const std::function<void()>& before_rename) {
  const fs::path target = write_target(path);
  const fs::path temp = temporary_beside(target);
  try {
    write_whole(temp, bytes);
    if (before_rename) before_rename();
    std::error_code ec;
    fs::rename(temp, target, ec);
    if (ec)
      throw IoError(path.string(),
                    "cannot rename " + temp.string() + " into place: " + ec.message());
  } catch (...) {
    remove_quietly(temp);
    throw;
  }
}

std::string read_file(const fs::path& path, std::uint64_t max_bytes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw IoError(path.string(), "cannot read: " + ec.message());
  if (size > max_bytes)
    throw IoError(path.string(), "larger than " + std::to_string(max_bytes) + " bytes");
  std::string bytes(size, '\0');
  std::ifstream in(path, std::ios::binary);
  if (!in.read(bytes.data(), std::streamsize(size))) throw IoError(path.string(), "cannot read");
  return bytes;
}

}  // namespace clnn::detail

namespace clnn {

void check_writable(const std::string& path) {
  if (path.empty()) throw IoError(path, "no file name given");
  // A trial file where the real one will be written: permissions, read-only file systems and
  // full disks all show up now rather than after the work.
  const auto temp = detail::temporary_beside(detail::write_target(path));
  try {
    detail::write_whole(temp, "");
  } catch (const IoError& e) {
    detail::remove_quietly(temp);
    throw IoError(path, std::string("cannot be written: ") + e.what());
  }
  detail::remove_quietly(temp);
}

}  // namespace clnn
