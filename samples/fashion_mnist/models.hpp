// The Fashion-MNIST models of clnn-fashion (and of clnn-bench's train suite).
#pragma once

#include <string>

#include "clnn/train.hpp"

namespace clnn::samples {

// "default": two small conv+pool blocks and a linear layer, sized to train in minutes on a CPU.
// "large": two blocks of two conv + batch-norm layers each with pooling, then two fully connected
// layers with dropout. Throws clnn::Error for another name.
train::Model fashion_model(const std::string& name);

}  // namespace clnn::samples
