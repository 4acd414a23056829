// clnn: the umbrella header of the public API.
#pragma once

#include "clnn/checkpoint.hpp"
#include "clnn/context.hpp"
#include "clnn/data.hpp"
#include "clnn/device.hpp"
#include "clnn/error.hpp"
#include "clnn/executor.hpp"
#include "clnn/graph.hpp"
#include "clnn/init.hpp"
#include "clnn/launch.hpp"
#include "clnn/nn.hpp"
#include "clnn/onnx.hpp"
#include "clnn/ops.hpp"
#include "clnn/optim.hpp"
#include "clnn/shape.hpp"
#include "clnn/tensor.hpp"
#include "clnn/train.hpp"
