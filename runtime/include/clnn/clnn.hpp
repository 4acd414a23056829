// clnn: the umbrella header of the public API.
#pragma once

#include "clnn/context.hpp"
#include "clnn/device.hpp"
#include "clnn/error.hpp"
#include "clnn/launch.hpp"
#include "clnn/shape.hpp"
#include "clnn/tensor.hpp"
