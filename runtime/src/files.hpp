// Internal: whole-file reads, and whole-file writes that readers never see half done.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace clnn::detail {

// The file a write to `path` replaces: `path`, or the file its symbolic links lead to. IoError
// when that is not a regular file (nor absent) or its folder does not exist.
std::filesystem::path write_target(const std::filesystem::path& path);

// Writes `bytes` to a temporary file beside write_target(path), flushes it and renames it over
// that file: a reader finds the old file or the new one. Throws IoError naming the file; the
// temporary file is removed on failure. before_rename runs between the two steps (tests
// interrupt there).
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           const std::function<void()>& before_rename = {});

// The whole file; IoError naming it when it cannot be read or is larger than max_bytes.
std::string read_file(const std::filesystem::path& path,
                      std::uint64_t max_bytes = std::uint64_t{1} << 31);

}  // namespace clnn::detail
