// Internal: integers computed at run time (integer graph inputs, ArgMax's positions, casts to
// integers). The device holds them as floats, exact below 2^24; these rules say where the
// importer lets them flow, so that no operator treats them other than ONNX treats integers
// (integer division, say, is refused).
#pragma once

#include <string>

#include "io/onnx_node.hpp"

namespace clnn::onnx::detail {

// Whether the node may read integers computed at run time at input i.
bool takes_run_time_integers(const Node& n, int input);

// Whether output i of the node holds integers, given whether it read integers computed at run
// time.
bool gives_integers(const Node& n, int output, bool read_integers);

}  // namespace clnn::onnx::detail
