// LaunchPlanner: launch configurations derived from a device's limits.
#include "clnn/launch.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "int_math.hpp"

namespace clnn {

namespace {

using detail::ceil_div;
using detail::ceil_pow2;
using detail::floor_pow2;

bool uses_local_memory(const DeviceInfo& d) {
  // On CPUs "local" memory is ordinary RAM: staging tiles there only adds copies.
  return d.type != DeviceType::cpu && d.local_mem_is_dedicated && d.local_mem_size > 0;
}

std::size_t item_limit(const DeviceInfo& d, std::size_t dim) {
  return dim < d.max_work_item_sizes.size() ? d.max_work_item_sizes[dim] : d.max_work_group_size;
}

// The precision a tensor-core kernel computes in, and the kernel of a precision (fp32 has none).
Precision precision_of(MatmulKernel kernel) {
  if (kernel == MatmulKernel::fp16) return Precision::fp16;
  if (kernel == MatmulKernel::bf16) return Precision::bf16;
  return kernel == MatmulKernel::tf32 ? Precision::tf32 : Precision::fp32;
}

std::optional<MatmulKernel> tensor_core_kernel(Precision precision) {
  for (MatmulKernel k : {MatmulKernel::tf32, MatmulKernel::fp16, MatmulKernel::bf16})
    if (precision_of(k) == precision) return k;
  return std::nullopt;
}

// gemm_cpu's vectors for blocks of work_n columns: the widest of 16, 8 or 4 floats that divides
// it (matmul_cpu.cl's VEC).
std::size_t cpu_vector_width(std::size_t work_n) {
  return work_n % 16 == 0 ? 16 : work_n % 8 == 0 ? 8 : 4;
}

}  // namespace

std::size_t ElementwisePlan::global_size(std::size_t n) const {
  std::size_t groups = std::max<std::size_t>(1, (n + local_size - 1) / local_size);
  return std::min(groups, max_groups) * local_size;
}

std::string to_string(MatmulKernel kernel) {
  switch (kernel) {
    case MatmulKernel::vec4:
      return "vec4";
    case MatmulKernel::cpu:
      return "cpu";
    case MatmulKernel::tf32:
      return "tf32";
    case MatmulKernel::fp16:
      return "fp16";
    case MatmulKernel::bf16:
      return "bf16";
    case MatmulKernel::tiled:
      break;
  }
  return "tiled";
}

std::size_t MatmulPlan::local_mem_bytes() const {
  if (!use_local_memory) return 0;
  if (stages > 0) return stages * (tile_m + tile_n) * tile_k * sizeof(float);
  if (kernel == MatmulKernel::vec4)  // double-buffered, each row padded by a float4
    return 2 * (tile_m + tile_n + 8) * tile_k * sizeof(float);
  if (kernel == MatmulKernel::tf32)  // by two float4s (PAD4 = 2)
    return 2 * (tile_m + tile_n + 16) * tile_k * sizeof(float);
  if (tensor_cores())  // tf32's rows, each holding two k of 16 bits
    return (tile_m + tile_n + 16) * tile_k * sizeof(float);
  return (tile_m + tile_n) * tile_k * sizeof(float);
}

std::string MatmulPlan::source_name() const {
  if (stages > 0) return "matmul_mma";
  if (tensor_cores()) return "matmul_vec4";
  return kernel == MatmulKernel::tiled ? "matmul" : "matmul_" + to_string(kernel);
}

std::string MatmulPlan::kernel_name() const {
  if (stages > 0) return "gemm_mma";
  if (tensor_cores()) return "gemm_vec4";
  return kernel == MatmulKernel::tiled ? "gemm" : "gemm_" + to_string(kernel);
}

std::string MatmulPlan::build_options() const {
  // Rows of 8 floats past a multiple of 32 put the 4 x 8 lanes of an mma fragment's load in
  // 32 distinct local memory banks.
  std::string mma;
  if (stages > 0)
    mma = " -DSTAGES=" + std::to_string(stages);
  else if (kernel == MatmulKernel::tf32)
    mma = " -DMMA_TF32=1 -DPAD4=2";
  if (kernel == MatmulKernel::fp16) mma = " -DMMA16=1 -DPAD4=2";
  if (kernel == MatmulKernel::bf16) mma = " -DMMA16=1 -DMMA_BF16=1 -DPAD4=2";
  return "-DTILE_M=" + std::to_string(tile_m) + " -DTILE_N=" + std::to_string(tile_n) +
         " -DTILE_K=" + std::to_string(tile_k) + " -DWORK_M=" + std::to_string(work_m) +
         " -DWORK_N=" + std::to_string(work_n) +
         " -DUSE_LOCAL_MEMORY=" + (use_local_memory ? "1" : "0") + mma +
         (columns_first ? " -DCOLUMNS_FIRST=1" : "");
}

std::string MatmulPlan::describe() const {
  return to_string(kernel) + " tile " + std::to_string(tile_m) + "x" + std::to_string(tile_n) +
         "x" + std::to_string(tile_k) + ", " + std::to_string(work_m) + "x" +
         std::to_string(work_n) + " per item" + (use_local_memory ? ", local memory" : "") +
         (stages > 0 ? ", " + std::to_string(stages) + " stages" : "") +
         (columns_first ? ", column by column" : "");
}

std::string to_string(GemvLayout layout) {
  return layout == GemvLayout::rows ? "rows" : "columns";
}

std::size_t GemvPlan::outputs_per_group() const {
  return layout == GemvLayout::rows ? local_size / std::max<std::size_t>(1, team) * width
                                    : 4 * width * local_size;
}

std::size_t GemvPlan::groups(std::size_t long_side) const {
  return std::max<std::size_t>(1, ceil_div(long_side, outputs_per_group()));
}

std::size_t GemvPlan::local_mem_bytes() const {
  return layout == GemvLayout::rows && team > 1 ? local_size * skinny * sizeof(float) : 0;
}

std::string GemvPlan::build_options() const {
  return "-DSKINNY=" + std::to_string(skinny) + " -DLOCAL_SIZE=" + std::to_string(local_size) +
         " -DTEAM=" + std::to_string(team) + " -DPASS=" + std::to_string(pass) +
         " -DWIDTH=" + std::to_string(width);
}

std::string GemvPlan::describe() const {
  std::string text = to_string(layout) + ", " + std::to_string(local_size) + " work-items";
  if (layout == GemvLayout::rows) text += ", teams of " + std::to_string(team);
  if (width > 1)
    text += ", " + std::to_string(layout == GemvLayout::rows ? width : 4 * width) + " outputs each";
  text += ", " + std::to_string(skinny) + (skinny == 1 ? " vector" : " vectors");
  if (pass < skinny) text += " " + std::to_string(pass) + " at a time";
  if (slices > 1) text += ", " + std::to_string(slices) + " slices of " + std::to_string(slice_k);
  return text;
}

LaunchPlanner::LaunchPlanner(DeviceInfo device) : device_(std::move(device)) {}

std::size_t LaunchPlanner::max_local_size_1d() const {
  return std::max<std::size_t>(1, std::min(device_.max_work_group_size, item_limit(device_, 0)));
}

ElementwisePlan LaunchPlanner::elementwise() const {
  // 256 work-items hide latency on GPUs without starving the scheduler; rounded to whole
  // SIMD groups so no lane idles, and capped by the device.
  const std::size_t cap = max_local_size_1d();
  const std::size_t simd = std::max<std::size_t>(1, device_.simd_width);
  std::size_t local = std::min<std::size_t>(256, cap);
  if (local >= simd)
    local -= local % simd;
  else
    local = floor_pow2(local);
  ElementwisePlan plan;
  plan.local_size = local;
  // GPUs: enough groups to fill every compute unit several times; grid-stride loops do the
  // rest. CPUs (PoCL) run a work-group's items as one vectorized loop, where long per-item
  // loops defeat vectorization: there each item gets about one element (clnn-bench elementwise
  // measured 1.4 GB/s for copy with 4 groups per unit and 30 GB/s with 4096).
  const std::size_t groups_per_unit = device_.type == DeviceType::gpu ? 16 : 4096;
  plan.max_groups = std::max<std::size_t>(1, device_.compute_units) * groups_per_unit;
  return plan;
}

bool LaunchPlanner::fits(const MatmulPlan& plan) const {
  if (plan.work_m == 0 || plan.work_n == 0 || plan.tile_k == 0) return false;
  if (plan.tile_m % plan.work_m != 0 || plan.tile_n % plan.work_n != 0) return false;
  // Staged tiles need local memory; where it is emulated in global memory (CPUs) they run, only
  // slower, so the planner does not choose them there but tests and the tuner may.
  if (plan.use_local_memory && device_.local_mem_size == 0) return false;
  if (plan.columns_first && plan.kernel != MatmulKernel::cpu) return false;  // gemm_cpu's alone
  if (plan.stages > 0 && plan.kernel != MatmulKernel::tf32) return false;    // gemm_mma is TF32
  switch (plan.kernel) {
    case MatmulKernel::tiled:
      break;
    case MatmulKernel::tf32:
    case MatmulKernel::fp16:
    case MatmulKernel::bf16: {
      // Whole warp pieces of 64 x (4 * work_n) (8 x work_n accumulators a work-item, 32
      // work-items a warp), whole mma steps of K (8 in TF32, 16 in 16 bits) and whole float4
      // loads, where mma.sync runs the precision. In 16 bits a work-item's loads of a tile come
      // in pairs of rows, which fill rows of 16-bit pairs (matmul_vec4.cl's across_row).
      const bool pairs = plan.kernel != MatmulKernel::tf32;
      const std::size_t items = plan.work_group_size(), loads_a = plan.tile_m * plan.tile_k / 4,
                        loads_b = plan.tile_n * plan.tile_k / 4;
      if (!plan.use_local_memory || plan.work_m != 8 || (plan.work_n != 8 && plan.work_n != 16) ||
          plan.tile_m % 64 != 0 || plan.tile_n % (4 * plan.work_n) != 0 ||
          plan.tile_k % (pairs ? 16 : 8) != 0 || loads_a % items != 0 || loads_b % items != 0 ||
          (pairs && ((loads_a / items) % 2 != 0 || (loads_b / items) % 2 != 0 ||
                     (4 * items) % plan.tile_m != 0 || (4 * items) % plan.tile_n != 0)) ||
          device_.simd_width != 32 || !runs_natively(device_, precision_of(plan.kernel)))
        return false;
      // Pipelined (TF32): 2 to 4 stages of whole 16-byte chunks, steps of 8, 16 or 32.
      if (plan.stages > 0 &&
          (plan.stages < 2 || plan.stages > 4 || plan.tile_k > 32 || plan.tile_m < 32 ||
           plan.tile_n < 32 || (plan.tile_k & (plan.tile_k - 1)) != 0))
        return false;
      break;
    }
    case MatmulKernel::vec4:
      // 8x8 blocks; every work-item loads whole float4s of both tiles (16 * tile_k divisible by
      // the tile sizes).
      if (!plan.use_local_memory || plan.work_m != 8 || plan.work_n != 8 || plan.tile_k % 4 != 0 ||
          (16 * plan.tile_k) % plan.tile_m != 0 || (16 * plan.tile_k) % plan.tile_n != 0)
        return false;
      break;
    case MatmulKernel::cpu: {
      // Up to 4 vectors of 16, 8 or 4 floats a row (matmul_cpu.cl's VEC); one row of work-items,
      // or one column of them taking steps of tile_k between barriers.
      const std::size_t vec = cpu_vector_width(plan.work_n);
      const bool row = plan.tile_m == plan.work_m && plan.tile_k == 1;
      const bool column = plan.tile_n == plan.work_n && plan.tile_k >= 1;
      if (plan.use_local_memory || !(row || column) || plan.work_n == 0 || plan.work_n % 4 != 0 ||
          plan.work_n / vec > 4)
        return false;
      break;
    }
  }
  return plan.work_group_size() <= device_.max_work_group_size &&
         plan.local_x() <= item_limit(device_, 0) && plan.local_y() <= item_limit(device_, 1) &&
         plan.local_mem_bytes() <= device_.local_mem_size;
}

bool LaunchPlanner::plannable(const MatmulPlan& plan) const {
  // Room to spare: the planner's tiles take at most half of local memory, leaving the rest to
  // the driver and to a second resident work-group; the tuner may try more.
  return fits(plan) && plan.local_mem_bytes() <= device_.local_mem_size / 2;
}

ReductionPlan LaunchPlanner::reduction() const {
  // The tree needs a power of two; partial sums take local_size floats of local memory.
  const std::size_t by_memory =
      std::max<std::size_t>(1, device_.local_mem_size / (2 * sizeof(float)));
  ReductionPlan plan;
  plan.local_size = floor_pow2(std::min({std::size_t{256}, max_local_size_1d(), by_memory}));
  plan.max_groups = elementwise().max_groups;
  // A few thousand: long enough that a second pass costs little beside the first, short
  // enough that one output never serializes a kernel (a work-item per channel summing 50,000
  // elements was 97% of a training step on the H200).
  plan.max_serial = 2048;
  // Measured on PoCL (2 cores): squeezenet's global pooling, 1,000 rows of 169, took 4.4 ms as
  // a work-group per row.
  plan.item_per_row = prefers_row_loops();
  return plan;
}

TransposePlan LaunchPlanner::transpose() const {
  // 32 columns: a warp's (half a wavefront's) accesses along one row of the block are one
  // transaction; 8 rows of work-items (256 in all) each carry 4 of the block's rows.
  constexpr std::size_t tile = 32;
  const std::size_t by_group = device_.max_work_group_size / tile;
  const std::size_t by_dim =
      device_.max_work_item_sizes.size() > 1 ? device_.max_work_item_sizes[1] : 1;
  const std::size_t rows = floor_pow2(std::min({std::size_t{8}, by_group, by_dim}));
  if (max_local_size_1d() < tile || rows == 0 ||
      device_.local_mem_size < tile * (tile + 1) * sizeof(float))
    return {};
  return {tile, rows};
}

std::size_t LaunchPlanner::vector_floats() const {
  return device_.native_vector_width >= 16 ? 16 : device_.native_vector_width >= 8 ? 8 : 4;
}

PaddedConvPlan LaunchPlanner::padded_conv(std::size_t filters, std::size_t taps, std::size_t span,
                                          bool addresses_live) const {
  PaddedConvPlan plan;
  plan.vector = vector_floats();
  // The sums, the input vectors and a broadcast weight in the vector registers (AVX-512's 32
  // hold 8 filters x 3 vectors of sums, AVX2's 16 hold 4 x 3), with at least as many vectors
  // as filters allow: a tap's loads (vectors + filters) then stay under its multiply-adds
  // (vectors x filters). With one vector of 16 filters they had bound the forward pass: the
  // 3 x 3, 64-filter bench layer (`clnn-bench conv`) on a 2-core AVX-512 Xeon ran forward at
  // 0.122 TFLOP/s so, 0.150 as 8 x 3 (0.148 as 8 x 2, 0.139 as 4 x 4).
  const std::size_t sums = plan.vector >= 16 ? 24 : 12, most = plan.vector >= 16 ? 8 : 4;
  // Where the loop keeps more addresses live, 24 sums spill on AVX-512: PoCL's build of a
  // stride-2 layer moved zmm registers to and from the stack 440 times as 8 x 3 (49 times as
  // 8 x 2), a 5 x 5 layer's (taps not unrolled) 337 times (55). On a 2-core AVX-512 EPYC
  // (clnn-run of single layers, three alternated rounds, ms as 8 x 3 / 8 x 2): mobilenet_v2's
  // stem (C3 K32, stride 2) 0.251-0.288 / 0.212-0.221 at batch 1 and 12.3-12.4 / 11.3-12.3 at
  // 32, ResNet's 7 x 7 stem 1.47 / 1.28-1.31, its C64 K128 stride-2 layer at 56 x 56
  // 1.15-1.16 / 0.97-0.99, the main job's first layer (5 x 5, batch 64) 0.62-0.65 / 0.52-0.55.
  // Unrolled unit-stride layers keep 24: squeezenet1_1's C16 K64 55 x 55 ran 0.436-0.461 as
  // 8 x 3, 0.442-0.485 as 8 x 2.
  const std::size_t kept = addresses_live && plan.vector >= 16 ? 16 : sums;
  while (plan.filters * 2 <= most && filters % (plan.filters * 2) == 0) plan.filters *= 2;
  plan.vectors = std::min<std::size_t>(4, kept / plan.filters);
  // On a short span the work-items' last lanes run past its end: a 7x7 plane (61 positions of
  // the copy, rows of 9) takes 96 lanes as 3 vectors a work-item, 64 as 2. Fewer vectors where
  // the work-items' cost (a tap's multiply-adds, or its loads where more) over the span is at
  // least 5% less: on long spans the counts differ by rounding alone, and 8 x 2 ran no faster
  // than 8 x 3 there. On a 2-core AVX-512 Xeon (`clnn-run`, batch 1, fastest of 4 alternating
  // runs) 512 channels of 7x7 ran 1.05 ms against 1.37, 256 of 14x14 0.96 against 1.04, and
  // resnet18 17.0 against 18.8.
  if (span > 0) {
    auto cost = [&](std::size_t vectors) {
      const std::size_t items = (span + vectors * plan.vector - 1) / (vectors * plan.vector);
      return items * std::max(vectors * plan.filters, vectors + plan.filters);
    };
    for (std::size_t v = plan.vectors - 1; v >= 1; --v)
      if (cost(v) * 20 < cost(plan.vectors) * 19) plan.vectors = v;
  }
  // The weight gradient's sums in the same registers: F filters by T taps, each step loading a
  // vector of gy per filter and of x per tap (F + T loads for F x T multiply-adds), each block of
  // taps streaming the planes again. Two filters at least where the count allows (one took more
  // than a load a multiply-add), then taps in as few blocks as hold them, then as many filters
  // as fit beside (2 x 9 for 3 x 3 filters and 2 x 9, 9, 7 for 5 x 5 on AVX-512).
  const std::size_t all = std::max<std::size_t>(taps, 1);
  if (filters % 2 == 0) plan.gradient_filters = 2;
  const std::size_t per_block = std::max<std::size_t>(1, sums / plan.gradient_filters);
  const std::size_t blocks = (all + per_block - 1) / per_block;
  plan.taps = (all + blocks - 1) / blocks;
  while (plan.gradient_filters * 2 * plan.taps <= sums && plan.gradient_filters < 16 &&
         filters % (plan.gradient_filters * 2) == 0)
    plan.gradient_filters *= 2;
  return plan;
}

bool LaunchPlanner::padded_filters_first(std::size_t copy_floats, std::size_t filter_floats) const {
  // Positions first, each block of filters streams the sample's copy again, from memory where
  // the cache does not hold it; filters first, each block of positions streams the filters. So
  // the smaller one streams where the copy does not stay. On 2 AVX-512 cores (r3d_18 at batch
  // 1, CLNN_PROFILE=nodes, ms positions / filters first): 64 -> 128 channels of 16x56x56, stride
  // 2 (copy 15.5 MB, filters 0.9 MB) 78 / 32-35, 128 -> 256 of 8x28x28 (4.6 and 3.5 MB) 26-27 /
  // 21-25; 512 -> 512 of 2x7x7 (copy 0.7 MB, filters 28 MB) 13.1-13.7 / 16.9-18.7.
  return device_.type == DeviceType::cpu && !cpu_cache_holds(copy_floats) &&
         filter_floats < copy_floats;
}

bool LaunchPlanner::fits(const ElementwisePlan& plan) const {
  return plan.local_size >= 1 && plan.local_size <= max_local_size_1d() && plan.max_groups >= 1;
}

bool LaunchPlanner::fits(const ReductionPlan& plan) const {
  const std::size_t size = plan.local_size;
  return size >= 1 && (size & (size - 1)) == 0 && size <= max_local_size_1d() &&
         size * sizeof(float) <= device_.local_mem_size / 2 && plan.max_groups >= 1 &&
         plan.max_serial >= 1;
}

MatmulPlan LaunchPlanner::matmul() const {
  if (uses_local_memory(device_)) {
    // 128x128 blocks with 256 work-items where the device allows, smaller blocks on smaller
    // devices; the longest step along K that local memory holds (fewer barriers per step).
    for (std::size_t tile : {128, 64, 32})
      if (auto plan = vec4_plan(tile, tile)) return *plan;
    return matmul_tiled();
  }
  // CPUs: a block of rows by native vectors that the registers hold with the vectors of B and
  // the broadcast of A: 8 x 3 sums of 32 registers with AVX-512 (16 floats), 6 x 2 of 16 without.
  // Four work-items a group share rows of A.
  const std::size_t width = device_.native_vector_width >= 16  ? 16
                            : device_.native_vector_width >= 8 ? 8
                                                               : 4;
  const std::size_t rows = width == 16 ? 8 : 6, vectors = width == 16 ? 3 : 2;
  const MatmulPlan plan{
      false, rows, 4 * vectors * width, 1, rows, vectors * width, MatmulKernel::cpu};
  return plannable(plan) ? plan : matmul_tiled();
}

std::optional<MatmulPlan> LaunchPlanner::vec4_plan(std::size_t tile_m, std::size_t tile_n) const {
  // The longest step along K that local memory holds: fewer barriers per step.
  for (std::size_t tile_k : {16, 8}) {
    const MatmulPlan plan{true, tile_m, tile_n, tile_k, 8, 8, MatmulKernel::vec4};
    if (plannable(plan)) return plan;
  }
  return std::nullopt;
}

MatmulPlan LaunchPlanner::shrink_blocks(MatmulPlan plan, std::size_t m, std::size_t n,
                                        std::size_t batch, std::size_t wanted,
                                        std::size_t least_items) const {
  // Moves to tile_m x tile_n blocks where the device takes them; false where it cannot.
  auto shrink_to = [&](std::size_t tile_m, std::size_t tile_n) {
    auto smaller = tile_m >= 32 && tile_n >= 32 ? vec4_plan(tile_m, tile_n) : std::nullopt;
    if (smaller) plan = *smaller;
    return smaller.has_value();
  };
  // Halving for occupancy stops at blocks of least_items work-items.
  auto has_items = [&](std::size_t tile_m, std::size_t tile_n) {
    return tile_m / plan.work_m * (tile_n / plan.work_n) >= least_items;
  };
  // First no block mostly outside the product: a convolution's 64 output channels in blocks of
  // 128 rows would compute twice what they keep.
  while (m <= plan.tile_m / 2 || n <= plan.tile_n / 2) {
    const std::size_t tile_m = m <= plan.tile_m / 2 ? plan.tile_m / 2 : plan.tile_m;
    const std::size_t tile_n = n <= plan.tile_n / 2 ? plan.tile_n / 2 : plan.tile_n;
    if (!shrink_to(tile_m, tile_n)) break;
  }
  while (plan.blocks(m, n, batch) < wanted) {
    const bool rows = plan.tile_m >= plan.tile_n;
    const std::size_t tile_m = rows ? plan.tile_m / 2 : plan.tile_m;
    const std::size_t tile_n = rows ? plan.tile_n : plan.tile_n / 2;
    if (!has_items(tile_m, tile_n) || !shrink_to(tile_m, tile_n)) break;
  }
  return plan;
}

MatmulPlan LaunchPlanner::matmul(std::size_t m, std::size_t n, std::size_t batch,
                                 std::size_t k) const {
  const MatmulPlan largest = matmul();
  // Where A fits in half a core's cache and B does not, the blocks go column by column instead
  // (cpu_columns_first_if_b_fills_cache): A is read again per column from the cache, B once.
  // ResNet-50's 1x1 layers at batch 1 (clnn-tune, 2-core AVX-512 Xeon): 128 x 784 x 512 0.45
  // ms against 0.56, 256 x 784 x 512 0.78 against 0.88, 128 x 3136 x 256 0.81 against 0.98;
  // SGEMM 1024 (A 4 MB) 13.9 against 11.4 kept the shared rows.
  if (largest.kernel == MatmulKernel::cpu && batch == 1 && std::min({m, n, k}) >= kCpuColumnStep &&
      !(cpu_cache_holds(m * k) && !cpu_cache_holds(k * n))) {
    // One large product: four blocks of rows a group, sharing 128 rows of B at a time. On
    // PoCL's 2 AVX-512 cores, SGEMM 1000, 1024 and 2000 ran at 182-211 GFLOP/s this way against
    // 123-146 in rows of blocks. Smaller and batched products did not gain: ResNet-50's 1x1
    // convolutions ran 0.6x to 1.5x as fast at batch 1 (C512 7x7 K2048: 1.3 against 0.75 ms),
    // and up to 1.9x slower at batch 32 (a product per sample).
    MatmulPlan column = largest;
    column.tile_m = 4 * largest.work_m, column.tile_n = largest.work_n;
    column.tile_k = kCpuColumnStep;
    return plannable(column) ? column : largest;
  }
  if (largest.kernel == MatmulKernel::cpu)
    return cpu_columns_first_if_b_fills_cache(cpu_blocks_for(largest, m, n), m, n, k);
  if (largest.kernel != MatmulKernel::vec4) return largest;
  // Halve the blocks (rows first) while the product has too few of them to occupy about every
  // compute unit: on the H100, 1024^3 ran 1.7x faster in 64x128 blocks (128 of them) than in
  // 128x128 (64). Blocks keep a SIMD group for each of a unit's four schedulers at least: one
  // or two made each unit wait on a group's loads. clnn-tune on the H100, vit_b_16's products at
  // batch 1 (197 rows): 197 x 768 x 768 ran 0.035 ms in 64 x 128 blocks (K then split) against
  // 0.054 as planned in smaller ones; 197 x 3072 x 768 0.042 against 0.059.
  const std::size_t wanted = std::max<std::size_t>(1, device_.compute_units * 3 / 4);
  const MatmulPlan shrunk = shrink_blocks(largest, m, n, batch, wanted, 4 * device_.simd_width);
  const MatmulPlan plan = long_steps_if_registers_hold(halved_for_last_wave(shrunk, m, n, batch));
  return longest_k_step_if_alone(plan, m, n, batch);
}

MatmulPlan LaunchPlanner::halved_for_last_wave(const MatmulPlan& plan, std::size_t m, std::size_t n,
                                               std::size_t batch) const {
  // Blocks of half the rows, two of which a unit's registers hold where it holds one of these:
  // the same waves, but a last wave half full or less (or a lone one) takes half as long. On the
  // H100 (132 units; clnn-tune): 6304 x 768 x 768, 300 blocks of 128 x 128 (36 in the last
  // wave), ran 0.180 ms in 64 x 128 blocks with steps of 16 against 0.212; 6304 x 3072 x 768
  // (12 in the last) 0.632 against 0.664; 6304 x 768 x 3072 0.734 against 0.778 (K in 3 slices);
  // where the last wave was fuller, 128 x 128 kept the lead: 6304 x 2304 x 768 (108 in it)
  // 0.472 against 0.496, 4096 x 2048 x 512 (116) 0.181 against 0.192, 4096^3 (100) 2.80 against
  // 3.04.
  const auto half = plan.tile_m >= 64 ? vec4_plan(plan.tile_m / 2, plan.tile_n) : std::nullopt;
  const std::size_t units = device_.compute_units, registers = device_.registers_per_group;
  auto pairs_fit = [&](const MatmulPlan& p) {
    return 2 * p.work_group_size() * kRegistersPerItem <= registers;
  };
  if (plan.kernel != MatmulKernel::vec4 || !half || units == 0 || pairs_fit(plan) ||
      !pairs_fit(*half))
    return plan;
  const std::size_t blocks = plan.blocks(m, n, batch), last = blocks % units;
  return blocks <= units || (last > 0 && last <= units / 2) ? *half : plan;
}

MatmulPlan LaunchPlanner::cpu_blocks_for(const MatmulPlan& plan, std::size_t m,
                                         std::size_t n) const {
  // Blocks compute whole: rows past m as duplicates, and a row's last block shifted back to end
  // at n. mobilenet_v2's 7x7 planes (49 columns) in blocks of 48 computed 96 a row. Fewer
  // vectors a row, with as many more rows as keep the sums in the same registers, where that
  // computes over a tenth less (the most vectors otherwise: they take fewer loads a multiply-add).
  const std::size_t width = cpu_vector_width(plan.work_n), most = plan.work_n / width;
  auto computed = [&](std::size_t vectors) {
    const std::size_t columns = vectors * width, rows = plan.work_m * most / vectors;
    return (n + columns - 1) / columns * columns * ((m + rows - 1) / rows * rows);
  };
  std::size_t fewest = computed(most);
  for (std::size_t v = 1; v < most; ++v) fewest = std::min(fewest, computed(v));
  std::size_t vectors = most;
  while (vectors > 1 && computed(vectors) * 10 > fewest * 11) --vectors;
  if (vectors == most) return plan;
  MatmulPlan fewer = plan;
  fewer.work_m = fewer.tile_m = plan.work_m * most / vectors;
  fewer.work_n = vectors * width;
  fewer.tile_n = plan.tile_n / plan.work_n * fewer.work_n;
  return plannable(fewer) ? fewer : plan;
}

MatmulPlan LaunchPlanner::cpu_columns_first_if_b_fills_cache(MatmulPlan plan, std::size_t m,
                                                             std::size_t n, std::size_t k) const {
  // Row by row, each row of blocks reads all of B before the next reads it again: from the
  // core's cache where B fits there beside A and C, else from the shared cache or memory, once
  // per row of blocks. Column by column, a column's rows of B serve all its blocks from the
  // cache and B is read once, but A once per column. PoCL sizes a CPU's local memory to a core's
  // cache (2 MiB on the Xeons of the 2-core and 16-core machines). On the 2-core one, batch 32:
  // ResNet-50's C256 56x56 K64 and K128 layers (B 3.2 MB a sample) ran 24-26 and 38 ms
  // column by column, against 37 and 62 row by row, its C512 28x28 K128 layers (1.6 MB) 17.6
  // against 24.4; where B took 0.8 MB (C64 56x56 K256), 22 ms against 18. mobilenet_v2's C144
  // 56x56 K24 at batch 1 (1.8 MB): 0.17 ms against 0.28.
  const std::size_t rows = (m + plan.tile_m - 1) / plan.tile_m;
  plan.columns_first = k > 0 && rows >= 2 && plan.tile_k == 1 && !cpu_cache_holds(k * n);
  return plan;
}

bool LaunchPlanner::cpu_cache_holds(std::size_t floats) const {
  return floats * sizeof(float) <= device_.local_mem_size / 2;
}

MatmulPlan LaunchPlanner::matmul_for_split_k(std::size_t m, std::size_t n, std::size_t k) const {
  const MatmulPlan largest = matmul();
  // CPUs run work-groups as their threads come free and split K for no occupancy
  // (gemm_k_slices): their blocks are an unsplit product's. mobilenet_v2's 7 x 7 pointwise
  // products (N = 49, K of 320 to 960) had computed 96 columns a row in blocks of 48.
  if (largest.kernel == MatmulKernel::cpu) return matmul(m, n, 1, k);
  if (largest.kernel != MatmulKernel::vec4) return largest;
  const MatmulPlan plan = narrower_if_less_padding(shrink_blocks(largest, m, n, 1, 0), n);
  // Work-groups of one SIMD group take steps of 8: with them more groups stay resident per unit.
  // clnn-tune on the H100, the large model's weight gradients at batch 512 in 32 x 64 blocks:
  // 32 x 288 (K 416k) 0.37 ms with steps of 8, 0.44 with 16; 64 x 288 (K 108k; planned in 64 x
  // 64 blocks, two SIMD groups) 0.155 and 0.207.
  if (plan.work_group_size() <= device_.simd_width) return with_k_step_at_most(plan, 8);
  return long_steps_if_registers_hold(plan);
}

MatmulPlan LaunchPlanner::narrower_if_less_padding(MatmulPlan plan, std::size_t n) const {
  // Slices of K occupy the device, so a block's width need not: the columns past N are work
  // thrown away. clnn-tune on the H100, the large model's weight gradients at batch 512 (over
  // tap rows, K of 108k to 416k): 32 x 288 ran 0.43 ms in blocks of 32 x 128 (384 columns
  // computed), 0.37 in 32 x 64 (320); 64 x 576 0.31 in 64 x 128 (640), 0.24 in 64 x 64; 32 x 32
  // blocks (no padding) 0.44, their work-groups of 16 too small.
  constexpr std::size_t kNarrowest = 64;
  if (plan.tile_n <= kNarrowest) return plan;
  auto computed = [n](std::size_t tile) { return (n + tile - 1) / tile * tile; };
  const auto narrower = vec4_plan(plan.tile_m, plan.tile_n / 2);
  return narrower && computed(narrower->tile_n) < computed(plan.tile_n) ? *narrower : plan;
}

MatmulPlan LaunchPlanner::long_steps_if_registers_hold(const MatmulPlan& plan) const {
  // The GEMM kernel with steps of 16 took 147 to 167 registers a work-item on the H100, whose
  // compute units hold 64K: two work-groups of 128 work-items (64 x 128 blocks) fit, and ran
  // 1.11x to 1.16x as fast as with steps of 8 (a weight gradient's slices, 1024^3); one of 256
  // (128 x 128) did not, and ran 0.74x as fast. Local memory does not bound them there: a unit
  // holds more than the 48 KiB one work-group may take. Where the registers are unknown, the
  // planner keeps to steps whose tiles leave half of local memory free.
  const std::size_t two_groups = 2 * plan.work_group_size() * kRegistersPerItem;
  const bool fit = plan.kernel == MatmulKernel::vec4 && two_groups <= device_.registers_per_group;
  return fit ? with_k_step(plan, 16) : plan;
}

MatmulPlan LaunchPlanner::with_k_step_at_most(MatmulPlan plan, std::size_t tile_k) const {
  MatmulPlan shorter = plan;
  shorter.tile_k = tile_k;
  return plan.tile_k > tile_k && fits(shorter) ? shorter : plan;
}

MatmulPlan LaunchPlanner::with_k_step(MatmulPlan plan, std::size_t tile_k) const {
  MatmulPlan longer = plan;
  longer.tile_k = tile_k;
  return plan.tile_k < tile_k && fits(longer) ? longer : plan;
}

MatmulPlan LaunchPlanner::implicit_conv(std::size_t m, std::size_t n, std::size_t batch,
                                        std::size_t taps) const {
  const MatmulPlan largest = matmul();
  if (largest.kernel != MatmulKernel::vec4) return largest;
  // A gathered element costs more than a loaded one, so large blocks, which gather each for
  // more rows, pay even where they leave some compute units idle: on the H100, 256 filters ran
  // 1.1x as fast in 98 blocks of 128 x 128 as in 196 of 64 x 128. Blocks keep two SIMD groups
  // of work-items or more, and slices of K (k_slices) fill the units where blocks are few: on
  // the H100 at batch 1, resnet50 ran 1.22-1.23 ms against 1.83-1.86 with blocks shrunk to 16
  // work-items (its 1x1 layer of 2048 -> 512 channels at 7x7: 64 x 64 blocks in 32 slices, was
  // 32 x 32 in 8), resnet18 0.60 against 0.72-0.73, squeezenet1_1 0.43-0.44 against 0.49-0.50;
  // batch 32 and training unchanged.
  const MatmulPlan plan =
      shrink_blocks(largest, m, n, batch, std::max<std::size_t>(1, device_.compute_units / 2),
                    2 * device_.simd_width);
  // Filters of several taps check each tap's bounds once per k-step: steps of 16 halve those
  // checks, and paid even with many blocks per unit. clnn-tune on the H200, r3d_18's 3x3x3
  // convolutions at batch 32: 64 filters (12,544 blocks of 64 x 128) 9.4 ms with steps of 16,
  // 11.2 with 8; 128 filters in 128 x 128 blocks 5.3 and 6.6; 256 filters 2.7 and 3.4. A 1x1
  // convolution (1000 filters, 13x13) ran 0.35 ms with 16 and 0.32 with 8.
  if (taps > 1) return with_k_step(plan, 16);
  return longest_k_step_if_alone(plan, m, n, batch);
}

MatmulPlan LaunchPlanner::longest_k_step_if_alone(MatmulPlan plan, std::size_t m, std::size_t n,
                                                  std::size_t batch) const {
  // With no more blocks than compute units, none shares a unit with another, so neither local
  // memory nor registers need be left for one: the longest k-step that fits takes half the
  // steps, barriers (and, in a convolution, tap checks). On the H100, 1024^3 ran 1.16x as fast
  // in 128 blocks of 64 x 128 with steps of 16 as of 8, and the 256-filter convolution 1.37x;
  // products of several blocks per unit ran up to 1.35x faster with steps of 8, whose fewer
  // registers and smaller tiles leave room for two.
  if (plan.kernel != MatmulKernel::vec4 || plan.blocks(m, n, batch) > device_.compute_units)
    return plan;
  return with_k_step(plan, 16);
}

std::size_t LaunchPlanner::k_slices(const MatmulPlan& plan, std::size_t blocks,
                                    std::size_t k) const {
  // A block's time grows with its rows, and the device runs blocks in waves of those its compute
  // units hold at once. Registers limit that too, which OpenCL does not tell (NVIDIA's
  // CL_KERNEL_WORK_GROUP_SIZE read 256 for every block size), so local memory alone counts.
  // On the H100 (48 KiB reported per work-group), this chose every split that paid among 1 to 4
  // slices of the bench layers' convolutions: 98 blocks of 33 KiB ran no faster in 2 or 3 slices
  // (2 and 3 waves), and 1.2x as fast in 4 (3 waves of a quarter of the rows); 196 blocks of
  // 13 KiB 1.4x as fast in 2 (one wave).
  const std::size_t resident = std::max<std::size_t>(
      1, device_.local_mem_size / std::max<std::size_t>(1, plan.local_mem_bytes()));
  return slices_by_waves(plan, blocks, k, resident, kMinSliceRows);
}

std::size_t LaunchPlanner::gemm_k_slices(const MatmulPlan& plan, std::size_t blocks,
                                         std::size_t k) const {
  // vit_b_16 at batch 32 on the H200: its products of N = 768 (300 blocks) ran at 47-53% of the
  // peak where those of N = 2304 and 3072 ran at 67-70% unsplit; the last wave of a few blocks.
  // Slices of 1024 rows and more: the K = 3072 products went from 0.843 to 0.731 ms in 3 slices
  // (their sum included), where slices of 256 to 384 rows made the K = 768 ones slower (0.233
  // to 0.255 ms in 3, 0.477 to 0.570 in 2: a block's fixed costs and the sum's pass weigh more).
  // CPUs run work-groups as their threads come free: no waves to fill.
  if (device_.type != DeviceType::gpu) return 1;
  return slices_by_waves(plan, blocks, k, split_k_blocks_per_unit(plan), kMinWaveSliceRows);
}

std::size_t LaunchPlanner::slices_by_waves(const MatmulPlan& plan, std::size_t blocks,
                                           std::size_t k, std::size_t resident,
                                           std::size_t least_rows) const {
  // The partial sums cost a pass over the output per slice: a split must save an eighth of the
  // time.
  // A GPU product of blocks so few that slices of kMinSliceRows would still leave most compute
  // units without one (a batch-1 convolution: 10 blocks over K = 960 rows, 30 in 3 slices for 132
  // units) takes slices as short as kMinStarvedSliceRows.
  const std::size_t step = std::max<std::size_t>(1, plan.tile_k);
  const bool starved =
      device_.type == DeviceType::gpu && blocks * (k / kMinSliceRows) < device_.compute_units;
  const std::size_t min_rows = starved ? kMinStarvedSliceRows : least_rows;
  const std::size_t slots = std::max<std::size_t>(1, device_.compute_units * resident);
  std::size_t best = 1, best_cost = 0, unsplit = 0;
  for (std::size_t slices = 1; slices == 1 || k / slices >= min_rows; ++slices) {
    const std::size_t rows = ((k + slices - 1) / slices + step - 1) / step * step;
    if (slices > 1 && (k + rows - 1) / rows < slices) continue;  // fewer slices of this size
    const std::size_t cost = (blocks * slices + slots - 1) / slots * rows;
    if (slices == 1 || cost < best_cost) best = slices, best_cost = cost;
    if (slices == 1) unsplit = cost;
  }
  return 8 * best_cost <= 7 * unsplit ? best : 1;
}

std::size_t LaunchPlanner::split_k_blocks_per_unit(const MatmulPlan& plan) const {
  // Two blocks a unit had left the H200's units at 128 work-items where blocks of 64 work-items
  // (32 x 128) split K: the large model's 32-filter weight gradient at batch 512 ran at 14.7
  // TFLOP/s in 88 slices, where the registers hold 6 such blocks a unit.
  const std::size_t items = std::max<std::size_t>(1, plan.work_group_size());
  const std::size_t by_registers =
      plan.float4_tiles() ? device_.registers_per_group / (items * kRegistersPerItem) : 0;
  return std::max<std::size_t>(2, by_registers);
}

std::size_t LaunchPlanner::max_walk(const GemvPlan& plan) const {
  // A CPU's work-item walking columns reads a short run of each row, a page apart: slices of at
  // most 1024 rows keep their pages in the TLB for the group's other work-items and the next
  // pass. clnn-bench skinny on PoCL: 4096 -> 4096 input gradients of 8 vectors took 65-73 ms in
  // one slice, 44-50 in slices of 1024; of one vector, 25088 -> 4096 took 90-125 and 80-83.
  const bool pages = prefers_row_loops() && plan.layout == GemvLayout::columns;
  return pages ? std::min<std::size_t>(kMaxItemK, 1024) : kMaxItemK;
}

GemvPlan LaunchPlanner::gemv(const GemvShape& shape, bool may_split) const {
  GemvPlan plan;
  plan.layout = shape.layout;
  plan.skinny = std::clamp<std::size_t>(shape.skinny, 1, kMaxSkinny);
  const bool rows = shape.layout == GemvLayout::rows;
  // Work-groups of up to 256 work-items, as the elementwise kernels (powers of two: the rows'
  // tree halves them), whose rows' tree takes at most half of local memory.
  std::size_t most = floor_pow2(std::min<std::size_t>(256, max_local_size_1d()));
  if (rows) {
    const std::size_t per_item = plan.skinny * sizeof(float);
    most =
        std::min(most, floor_pow2(std::max<std::size_t>(1, device_.local_mem_size / 2 / per_item)));
  }
  // Not below a SIMD group where there are outputs to fill one, so no lane idles.
  const std::size_t simd = std::min(most, floor_pow2(std::max<std::size_t>(1, device_.simd_width)));
  plan.pass = plan.skinny;
  if (prefers_row_loops()) {
    // CPUs: work-items run one after another, so each streams a contiguous run of the big matrix
    // alone (a row; or 32 outputs of each row, not 4 outputs a page apart) with its accumulators
    // in vector registers (AVX2 has 16). clnn-bench skinny on PoCL (2 busy cores, so ranges):
    // a batch-1 4096 -> 4096 layer ran at 0.3-0.5 of copy's bandwidth in teams of 256 and
    // 0.5-0.8 a row per work-item, its input gradient at 0.1-0.2 with 4 outputs per work-item
    // and 0.3-0.6 with 32; at batch 16, 16 vectors at once took 71 ms, 8 at a time 40-51.
    // Groups of 16 leave enough of them to share among the cores. In rows, several rows per
    // work-item (gemv_row_blocks), each with a float16 sum per vector: a batch-1 9216 -> 4096
    // layer took 6.6 ms a row at a time, 4.9 in fours, 4.5 in eights (2-core EPYC, the fastest
    // of 3 runs; ONNX Runtime 4.1-4.8).
    plan.pass = std::min<std::size_t>(plan.skinny, 8);
    plan.team = 1;
    plan.width = std::max<std::size_t>(1, 8 / plan.pass);
    plan.local_size = std::min<std::size_t>(most, 16);
  } else if (rows) {
    // Each work-item of a team gets about kItemFloat4s float4s of its row: shorter rows take
    // smaller teams, several to a work-group, so no team is mostly idle.
    constexpr std::size_t kItemFloat4s = 8;
    plan.team =
        std::min(most, floor_pow2(std::max<std::size_t>(1, ceil_div(shape.k, 4 * kItemFloat4s))));
    plan.local_size = std::min(most, std::max(simd, plan.team * ceil_pow2(shape.long_side)));
  } else {
    // Groups of 64 (two NVIDIA warps, one AMD wavefront) cover 256 outputs: a product with few
    // outputs still spreads over several units before K is sliced.
    plan.team = 1;
    const std::size_t items = ceil_pow2(ceil_div(shape.long_side, 4));
    plan.local_size = std::min(most, std::max(simd, std::min<std::size_t>(64, items)));
  }
  // Slices of K where the work-groups of all outputs would not occupy the device, or where a
  // work-item would walk more than kMaxItemK elements. A GPU streams at full speed with its
  // units full of work-items (2048 is what an NVIDIA unit holds); a CPU runs a work-group per
  // thread, and a few per unit balance them. Each slice writes partial sums that the second
  // pass reads back: at least 16 elements of K per vector keep that traffic within an eighth of
  // the big matrix's, and at least 4 float4s per work-item of a team keep the tree's share small.
  // On a GPU whose cache holds the big matrix (the cache it reports, which may be smaller than
  // its L2) that traffic costs little beside each work-item's wait on its loads, one row after
  // another: there slices go down to kMinGpuGemvSlice. On the H100 the large model's 256 -> 10
  // weight gradient at batch 512 (M 256, K 512, 10 vectors) took 0.054 ms in 3 slices of 172
  // rows, 0.014 in 32 of 16 (and 0.010 to sum them).
  // The sum walks every slice of an output: at most 256 of them unless kMaxItemK needs more.
  const std::size_t units = std::max<std::size_t>(1, device_.compute_units);
  const std::size_t wanted = device_.type == DeviceType::gpu
                                 ? std::max<std::size_t>(1, units * 2048 / plan.local_size)
                                 : units * 4;
  const std::size_t groups = plan.groups(shape.long_side) * std::max<std::size_t>(1, shape.batch);
  std::size_t slices = 1;
  if (may_split) {
    const bool gpu = device_.type == DeviceType::gpu;
    const double matrix_bytes = double(shape.long_side) * double(shape.k) *
                                double(std::max<std::size_t>(1, shape.batch)) * sizeof(float);
    const bool cached = gpu && matrix_bytes <= double(device_.global_mem_cache_size);
    const std::size_t floor = gpu ? kMinGpuGemvSlice : 64;
    const std::size_t min_slice =
        std::max<std::size_t>({floor, cached ? 0 : 16 * plan.skinny, 16 * plan.team});
    const std::size_t for_units = std::min({ceil_div(wanted, groups), std::size_t{256},
                                            std::max<std::size_t>(1, shape.k / min_slice)});
    slices = std::max(for_units, ceil_div(shape.k, plan.team * max_walk(plan)));
  }
  plan.slice_k = std::max<std::size_t>(4, ceil_div(ceil_div(shape.k, slices), 4) * 4);
  plan.slices = std::max<std::size_t>(1, ceil_div(shape.k, plan.slice_k));
  return plan;
}

bool LaunchPlanner::fits(const GemvPlan& plan) const {
  auto pow2 = [](std::size_t n) { return n >= 1 && (n & (n - 1)) == 0; };
  const bool shape_ok = plan.layout == GemvLayout::rows
                            ? pow2(plan.team) && plan.team <= plan.local_size && plan.width >= 1 &&
                                  (plan.width == 1 || plan.team == 1)
                            : plan.team == 1 && plan.width >= 1;
  return plan.skinny >= 1 && plan.skinny <= kMaxSkinny && plan.pass >= 1 &&
         plan.pass <= plan.skinny && shape_ok && pow2(plan.local_size) &&
         plan.local_size <= max_local_size_1d() && plan.slices >= 1 && plan.slice_k >= 4 &&
         plan.slice_k % 4 == 0 && plan.local_mem_bytes() <= device_.local_mem_size;
}

std::optional<MatmulPlan> LaunchPlanner::with_tensor_cores(const MatmulPlan& plan,
                                                           Precision precision) const {
  const std::optional<MatmulKernel> kernel = tensor_core_kernel(precision);
  if (!kernel || plan.kernel != MatmulKernel::vec4) return std::nullopt;
  MatmulPlan mma = plan;
  mma.kernel = *kernel;
  // Blocks no smaller than one warp piece; the vec4 plan's where they hold whole pieces. Pieces
  // 32 wide: on the H200 (clnn-bench matmul --precision tf32, two calls) 64-wide ones (work_n
  // 16), which read a third less local memory per product, ran no faster at 8192 (94.9 TFLOP/s
  // against 97.4) and slower at 1024 (40.8 against 64.0), where they leave half the blocks.
  mma.tile_m = std::max<std::size_t>(64, plan.tile_m);
  mma.tile_n = std::max<std::size_t>(32, plan.tile_n);
  // Steps of 16 where local memory holds them, whatever vec4's registers chose: the kernel's
  // accumulators are half vec4's (126 registers a work-item at 128 x 128 x 16 in TF32, two
  // work-groups of 256 a compute unit), and a barrier then serves 32 products a warp instead of
  // 16. On the H200 TF32's 128 x 128 blocks went from 98.8 to 110.6 TFLOP/s at 8192 and from
  // 95.3 to 106.4 at 4096. In 16 bits, where the same local memory would hold steps of 32, 16
  // ran faster from 2048 up (fp16 at 8192: 182.9 TFLOP/s against 154.0; 1024: 88.7 against
  // 104.2), the extra loads of 32 a step costing registers.
  const std::size_t step = mma.kernel == MatmulKernel::tf32 ? 8 : 16;
  for (std::size_t tile_k : {std::size_t(16), std::max(step, plan.tile_k)}) {
    mma.tile_k = tile_k;
    if (fits(mma)) return mma;
  }
  return std::nullopt;
}

std::optional<MatmulPlan> LaunchPlanner::pipelined(Precision precision) const {
  if (precision != Precision::tf32) return std::nullopt;
  // 128 x 128 blocks in pieces of 64 x 64 (4 warps), steps of 16 k: the fastest form at 4096
  // and 8192 on an H100 (2026-12-06, PERFORMANCE.md; 124.5 TFLOP/s at 8192 in 3 stages, 2
  // stages 2% behind, pieces of 64 x 32 or 4 stages of 8 k 11% behind; at 2048 2 stages led by
  // 2%). 3 stages fill the 48 KiB a work-group may take; with less local memory, fewer stages or
  // shorter steps.
  for (const MatmulPlan& plan : {MatmulPlan{true, 128, 128, 16, 8, 16, MatmulKernel::tf32, 3},
                                 MatmulPlan{true, 128, 128, 16, 8, 16, MatmulKernel::tf32, 2},
                                 MatmulPlan{true, 128, 128, 8, 8, 16, MatmulKernel::tf32, 2}})
    if (fits(plan)) return plan;
  return std::nullopt;
}

std::vector<MatmulPlan> LaunchPlanner::pipelined_forms() const {
  std::vector<MatmulPlan> forms;
  for (std::size_t stages : {2, 3, 4})
    for (std::size_t tile_k : {8, 16, 32})
      for (std::size_t work_n : {8, 16}) {
        const MatmulPlan form{true, 128, 128, tile_k, 8, work_n, MatmulKernel::tf32, stages};
        if (fits(form)) forms.push_back(form);
      }
  return forms;
}

MatmulPlan LaunchPlanner::matmul_any_shape() const {
  const MatmulPlan plan = matmul();
  return plan.kernel == MatmulKernel::vec4 ? matmul_tiled() : plan;
}

MatmulPlan LaunchPlanner::matmul_tiled() const {
  struct Candidate {
    std::size_t tile_m, tile_n, tile_k, work_m, work_n;
  };
  // Best first: bigger tiles reuse each loaded element more; the smallest always fits.
  static constexpr std::array<Candidate, 10> local_candidates{{
      {128, 128, 32, 8, 8},
      {128, 128, 16, 8, 8},
      {64, 64, 16, 4, 4},
      {64, 64, 8, 4, 4},
      {32, 32, 8, 2, 2},
      {32, 32, 8, 4, 4},
      {16, 16, 8, 2, 2},
      {8, 8, 8, 2, 2},
      {4, 4, 4, 2, 2},
      {1, 1, 1, 1, 1},
  }};
  static constexpr std::array<Candidate, 5> cpu_candidates{{
      {32, 32, 8, 4, 4},
      {16, 16, 8, 4, 4},
      {8, 8, 8, 4, 4},
      {4, 4, 4, 4, 4},
      {1, 1, 1, 1, 1},
  }};
  const bool local = uses_local_memory(device_);
  auto pick = [&](const auto& candidates) {
    for (const Candidate& c : candidates) {
      const MatmulPlan plan{local, c.tile_m, c.tile_n, c.tile_k, c.work_m, c.work_n};
      if (plannable(plan)) return plan;
    }
    const Candidate& c = candidates.back();
    return MatmulPlan{false, c.tile_m, c.tile_n, c.tile_k, c.work_m, c.work_n};
  };
  return local ? pick(local_candidates) : pick(cpu_candidates);
}

}  // namespace clnn
