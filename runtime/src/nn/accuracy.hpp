// Internal: the trainer's count of correct predictions, kept on the device between batches.
#pragma once

#include "clnn/tensor.hpp"

namespace clnn::detail {

struct ContextImpl;

// counter[0] += the rows of logits [rows, classes] whose first largest entry is the label
// (labels: one float class index per row).
void count_correct(ContextImpl& ctx, const Tensor& logits, const Tensor& labels,
                   const Tensor& counter);

}  // namespace clnn::detail
