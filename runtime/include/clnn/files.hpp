// Output files: clnn writes every file atomically (a temporary file renamed into place) and only
// over a regular file or through a symbolic link to one; a device, fifo, socket or directory at
// the path is an IoError and is left as it is.
#pragma once

#include <string>

namespace clnn {

// Checks, before long work, that `path` can be written: its folder exists and takes a new file,
// and nothing but a regular file (or a link to one) stands at the path. IoError naming the path
// otherwise.
void check_writable(const std::string& path);

}  // namespace clnn
