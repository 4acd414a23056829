// LaunchPlanner: work-group sizes and tiles for each kernel family, derived from a DeviceInfo.
// Every function is deterministic in the DeviceInfo, so plans can be unit-tested on synthetic
// devices and printed by clnn-devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "clnn/device.hpp"

namespace clnn {

// Elementwise kernels: one-dimensional, grid-stride loops beyond max_groups work-groups.
struct ElementwisePlan {
  std::size_t local_size = 1;
  std::size_t max_groups = 1;
  // The global size for n elements: whole work-groups, at most max_groups of them.
  std::size_t global_size(std::size_t n) const;
};

// Tiled transposes (cl_kernels/transpose.cl): a work-group moves a tile x tile block through local
// memory, `rows` work-items per column, so that both its reads and its writes run along memory.
struct TransposePlan {
  std::size_t tile = 0;  // 0: the device cannot hold a block (too few work-items or local memory)
  std::size_t rows = 0;
};

// Direct convolution over a zero-padded copy of the input (cl_kernels/conv_padded.cl): each
// work-item holds `filters` accumulators of `vector` consecutive output positions, one vector
// register each, and loads one vector of input per channel and tap for all of them. The weight
// gradient's work-items hold a vector of sums for each of `gradient_filters` filters and `taps`
// taps (a block of the filter's taps), so that each vector loaded serves several sums.
struct PaddedConvPlan {
  std::size_t vector = 4;   // floats per vector: the device's native width, at least 4
  std::size_t filters = 1;  // filters per work-item: a power of two dividing the filter count
  std::size_t vectors = 1;  // vectors of positions per work-item
  std::size_t taps = 1;
  std::size_t gradient_filters = 1;  // a power of two dividing the filter count
  // The positions one forward work-item reads and writes from its first: vectors * vector.
  std::size_t reach() const { return vectors * vector; }
};

// The matmul kernels (cl_kernels/matmul*.cl), all computing C[M,N] = A[M,K] B[K,N] with a
// work-group per tile_m x tile_n block of C and a work_m x work_n register block per work-item:
// - tiled: any device and shape; steps tile_k along K, staging the operand tiles in local memory
//   when use_local_memory (GPUs), else reading them through the cache.
// - vec4: GPUs with local memory, for calls whose sizes, leading dimensions and offsets are
//   multiples of 4: float4 loads, double-buffered local tiles, 8x8 blocks per work-item.
// - cpu: CPUs, any shape: each work-item's block lives in work_m vector registers of work_n
//   floats; tile_m == work_m, and tile_n / work_n work-items of a group share their rows of A.
// - tf32: vec4's loads and tiles (the same source, MMA_TF32), the products on tensor cores:
//   each warp of the group multiplies a 64 x 32 piece of the block with mma.sync m16n8k8 in
//   TF32, fp32 sums (Precision::tf32 on NVIDIA devices of compute capability 8.0 and up); the
//   8x8 blocks per work-item count its accumulators.
// - fp16, bf16: the same, the products mma.sync m16n8k16 from operands rounded to 16 bits and
//   staged as pairs along K (MMA16); steps of K a multiple of 16.
// - tf32 with stages > 0: the pipelined tensor-core kernel (matmul_mma.cl): cp.async copies
//   into `stages` fp32 tiles in flight, warp pieces of 64 x (4 * work_n). Plain products only.
enum class MatmulKernel { tiled, vec4, cpu, tf32, fp16, bf16 };

std::string to_string(MatmulKernel kernel);

struct MatmulPlan {
  bool use_local_memory = true;
  std::size_t tile_m = 1, tile_n = 1, tile_k = 1;
  std::size_t work_m = 1, work_n = 1;
  MatmulKernel kernel = MatmulKernel::tiled;
  std::size_t stages = 0;  // tf32 only: local tiles in flight (0: vec4's register-staged form)
  // cpu only: the work-groups take their blocks of C column by column, every block-row of a
  // column before the next column, rather than a row of blocks at a time.
  bool columns_first = false;
  std::size_t local_x() const { return tile_n / work_n; }  // work-items along N
  std::size_t local_y() const { return tile_m / work_m; }  // work-items along M
  std::size_t work_group_size() const { return local_x() * local_y(); }
  // Whether the products run on tensor cores (tf32, fp16, bf16).
  bool tensor_cores() const {
    return kernel == MatmulKernel::tf32 || kernel == MatmulKernel::fp16 ||
           kernel == MatmulKernel::bf16;
  }
  // Whether the kernel stages float4 tiles as vec4 does (vec4 and the tensor-core forms):
  // aligned calls only.
  bool float4_tiles() const { return kernel == MatmulKernel::vec4 || tensor_cores(); }
  // Work-groups (blocks) covering `batch` M x N products.
  std::size_t blocks(std::size_t m, std::size_t n, std::size_t batch = 1) const {
    return ((m + tile_m - 1) / tile_m) * ((n + tile_n - 1) / tile_n) * batch;
  }
  // Bytes of local memory the staged tiles take (0 without local memory).
  std::size_t local_mem_bytes() const;
  // The kernel's source file (cl_kernels/<file>.cl) and function.
  std::string source_name() const;
  std::string kernel_name() const;
  // "-D" options that compile the kernel for this plan.
  std::string build_options() const;
  // "vec4 tile 128x128x8, 8x8 per item, local memory": for tools and logs.
  std::string describe() const;
};

// Skinny products (cl_kernels/gemv.cl): C = op(A) op(B) where M or N is at most
// LaunchPlanner::kMaxSkinny, seen as `skinny` vectors of length K against one big matrix of
// `long_side` x K (the other side of C), which is streamed once. Two layouts of the big matrix:
// - rows: contiguous along K (Linear's forward, y = W x with W [out, K]): on GPUs a team of
//   work-items walks each row a float4 at a time and sums its share in a local-memory tree; on
//   CPUs, which run loops cheaply, a work-item streams a row alone.
// - columns: contiguous along the long side (x W with W [K, N], an input gradient): each
//   work-item owns four neighbouring outputs (GPUs; more on CPUs) and walks K.
// Where those work-groups would leave compute units idle, or a work-item would walk more than
// kMaxItemK elements of K, K is cut into slices whose partial products a second pass sums.
enum class GemvLayout { rows, columns };

std::string to_string(GemvLayout layout);

struct GemvShape {
  GemvLayout layout = GemvLayout::rows;
  std::size_t long_side = 1, k = 1, skinny = 1, batch = 1;
};

struct GemvPlan {
  GemvLayout layout = GemvLayout::rows;
  std::size_t skinny = 1;      // vectors held per work-item (compiled in)
  std::size_t local_size = 1;  // a power of two
  std::size_t team = 1;        // rows: work-items summing one row (a power of two); columns: 1
  std::size_t pass = 1;        // vectors summed per walk over a slice (up to skinny)
  std::size_t width = 1;       // columns: float4s of outputs per work-item; rows: rows per
                               // work-item (teams of 1; gemv_row_blocks where more than 1)
  std::size_t slices = 1;      // slices of K, one partial product each (1: no second pass)
  std::size_t slice_k = 4;     // elements of K per slice, a multiple of 4 (the last takes the rest)
  // Outputs along the long side that one work-group computes: rows, width rows per team;
  // columns, 4 * width per work-item.
  std::size_t outputs_per_group() const;
  // Work-groups along the long side (per slice and per product of a batch).
  std::size_t groups(std::size_t long_side) const;
  // Bytes of local memory the rows' tree takes (0 for columns and single-item teams).
  std::size_t local_mem_bytes() const;
  std::string build_options() const;
  // "rows, 256 work-items, teams of 256, 1 vector, 4 slices of 6272": for tools and logs.
  std::string describe() const;
};

// Reductions (runtime/src/ops/reduction.cpp): a work-group per piece of a contiguous row, with a
// power-of-two local size whose partial sums fit in local memory, or a work-item per output of
// a strided one; max_groups as many as fill the device. A pass never leaves one work-item more
// than max_serial elements to sum in a row: longer runs are cut into pieces summed by a second
// pass. On CPUs (item_per_row) a contiguous row is a work-item's, like a strided run: a
// work-group's tree in local memory costs a CPU more than the row.
struct ReductionPlan {
  std::size_t local_size = 1;
  std::size_t max_groups = 1;
  std::size_t max_serial = 1;
  bool item_per_row = false;
};

class LaunchPlanner {
 public:
  // Split-K gives each slice of K at least this many rows; k_slices goes down to the second
  // where a GPU would otherwise stay mostly idle.
  static constexpr std::size_t kMinSliceRows = 256;
  static constexpr std::size_t kMinStarvedSliceRows = 64;
  // gemm_k_slices' slices, which only fill a last wave, take at least this many rows.
  static constexpr std::size_t kMinWaveSliceRows = 1024;

  explicit LaunchPlanner(DeviceInfo device);
  const DeviceInfo& device() const { return device_; }

  ElementwisePlan elementwise() const;
  // The fastest kernel's plan for products it can take (vec4 needs aligned calls).
  MatmulPlan matmul() const;
  // The same for a batch of M x N products: smaller blocks where the largest would leave
  // compute units idle, and long k-steps where each unit runs at most one block. On CPUs, a
  // single product with M, N and K of 128 or more (k known) shares B's rows in groups along M,
  // unless A stays in half a core's cache where B does not; others, and those, take their blocks
  // column by column where B fills a core's cache (k known).
  MatmulPlan matmul(std::size_t m, std::size_t n, std::size_t batch, std::size_t k = 0) const;
  // The plan for an M x N product whose caller occupies the device by splitting K instead: blocks
  // are halved only while they lie mostly outside the product, or to 64 columns where that
  // computes fewer past N, and work-groups of one SIMD group take steps of 8 (CPUs: an unsplit
  // product's plan).
  MatmulPlan matmul_for_split_k(std::size_t m, std::size_t n, std::size_t k) const;
  // The plan for a convolution as an implicit GEMM (vec4 with CONV_GATHER) of `batch` products
  // of M filters by N columns over `taps` kernel positions: blocks shrunk only where they would
  // leave most compute units idle, and long k-steps where the filters have several taps or each
  // unit runs at most one block.
  MatmulPlan implicit_conv(std::size_t m, std::size_t n, std::size_t batch,
                           std::size_t taps = 1) const;
  // Slices of K (split-K) for `blocks` blocks of a vec4 plan over K rows, each slice a whole
  // number of k-steps: the count that minimizes waves x rows per slice, with slices of at least
  // kMinSliceRows (kMinStarvedSliceRows for few blocks on a GPU); a compute unit is taken to hold
  // as many blocks at once as its local memory does.
  std::size_t k_slices(const MatmulPlan& plan, std::size_t blocks, std::size_t k) const;
  // The same for a plain product (gemm's split-K where its blocks already occupy the device), a
  // compute unit taken to hold split_k_blocks_per_unit blocks at once; 1 on CPUs.
  std::size_t gemm_k_slices(const MatmulPlan& plan, std::size_t blocks, std::size_t k) const;
  // The blocks of a plan a split-K product keeps on each compute unit: as many as the unit's
  // registers hold where the device reports them (kRegistersPerItem a work-item), at least 2.
  std::size_t split_k_blocks_per_unit(const MatmulPlan& plan) const;
  // Registers a work-item of the vec4 GEMM kernel takes: 147 to 167 with steps of 16 on the
  // H100 (its 8x8 register tile is the same in every block shape).
  static constexpr std::size_t kRegistersPerItem = 168;
  // Skinny products: at most this many vectors against the big matrix.
  static constexpr std::size_t kMaxSkinny = 16;
  // gemm_cpu in columns (matmul(m, n, batch, k)): the steps of K between barriers, in which a
  // group's blocks of rows share the rows of B; also the least M, N and K planned so.
  static constexpr std::size_t kCpuColumnStep = 128;
  // Elements of K one work-item of a skinny product walks at most (in one slice).
  static constexpr std::size_t kMaxItemK = 4096;
  // The fewest rows of K a GPU's skinny-product slice takes where the outputs alone leave the
  // device idle (CPUs: 64). A work-item of such a product waits on its loads one row after
  // another: on the H200 (A/B, two rounds) slices of 16 against 64 took the default model's
  // batch-1 inference from 0.054 to 0.047-0.052 ms (its 1568 -> 10 layer), the large model's
  // from 0.113 to 0.107, and a 4096 -> 4096 input gradient from 0.036 to 0.031 ms; training
  // and wider products unchanged within noise.
  static constexpr std::size_t kMinGpuGemvSlice = 16;
  // Elements of K a work-item of a skinny product walks at most in one slice: kMaxItemK, less
  // where its accesses stride across pages.
  std::size_t max_walk(const GemvPlan& plan) const;
  // The plan for a skinny product; without may_split, one slice however long K is (a caller
  // that needs a single launch, or cannot give scratch memory to partial sums).
  GemvPlan gemv(const GemvShape& shape, bool may_split = true) const;
  // Whether a skinny-product configuration respects the device's limits and its kernel's rules.
  bool fits(const GemvPlan& plan) const;
  // A vec4 plan's tensor-core form for a precision (tf32, fp16, bf16): blocks of whole warp
  // pieces (64 x 32), where the device runs that precision natively; nothing otherwise (fp32
  // runs vec4).
  std::optional<MatmulPlan> with_tensor_cores(const MatmulPlan& plan, Precision precision) const;
  // The pipelined TF32 kernel's plan (gemm_mma: ops/gemm.cpp takes it for products of many
  // blocks, or for all with CLNN_TF32_GEMM=pipelined), where the device runs TF32 natively;
  // nothing otherwise.
  std::optional<MatmulPlan> pipelined(Precision precision) const;
  // Every form of the pipelined TF32 kernel that fits the device, at 128 x 128 blocks: 2 to 4
  // stages of 8, 16 or 32 k, pieces 32 or 64 wide (for tests and clnn-bench matmul, which time
  // them all; empty where the device has no TF32 tensor cores).
  std::vector<MatmulPlan> pipelined_forms() const;
  // The plan for any call: matmul() unless that is vec4, whose calls must be aligned; then the
  // tiled kernel's.
  MatmulPlan matmul_any_shape() const;
  // Whether a matmul configuration (planned or tuned) respects the device's limits and its
  // kernel's rules.
  bool fits(const MatmulPlan& plan) const;
  // Whether the planner would choose it: it fits with local memory to spare.
  bool plannable(const MatmulPlan& plan) const;
  ReductionPlan reduction() const;
  TransposePlan transpose() const;
  // `span`, where known (> 0): the positions of a sample's copy the forward pass runs over,
  // from which fewer vectors a work-item may waste fewer lanes past its end. `addresses_live`:
  // the forward loop keeps more than its taps' offsets in registers (strided phases, or taps too
  // many to unroll), so the sums leave it more registers.
  PaddedConvPlan padded_conv(std::size_t filters, std::size_t taps = 1, std::size_t span = 0,
                             bool addresses_live = false) const;
  // Whether conv_padded's grid takes its blocks of filters first on a CPU, for a sample's copy of
  // the input and the filters of these sizes: each operand is read from memory once per block of
  // the other unless it stays in the cache.
  bool padded_filters_first(std::size_t copy_floats, std::size_t filter_floats) const;
  // Floats of the vectors that CPU kernels compute in: the device's native width as 16, 8 or 4.
  std::size_t vector_floats() const;
  // Whether an elementwise or reduction plan (planned or tuned) respects the device's limits:
  // a work-group size the device takes (a power of two within local memory for reductions).
  bool fits(const ElementwisePlan& plan) const;
  bool fits(const ReductionPlan& plan) const;

  // The largest work-group size usable in one dimension: max_work_group_size and
  // max_work_item_sizes[0] together.
  std::size_t max_local_size_1d() const;

  // Whether gather/scatter kernels should give each work-item a whole row to loop over rather
  // than one element: CPUs run loops cheaply and pay for the index divisions per element; GPUs
  // want one element per work-item so that neighbouring work-items touch neighbouring memory.
  bool prefers_row_loops() const { return device_.type == DeviceType::cpu; }

 private:
  MatmulPlan matmul_tiled() const;
  // k_slices' count for compute units that each hold `resident` blocks at once, with slices of
  // at least least_rows rows (kMinStarvedSliceRows for few blocks on a GPU).
  std::size_t slices_by_waves(const MatmulPlan& plan, std::size_t blocks, std::size_t k,
                              std::size_t resident, std::size_t least_rows) const;
  std::optional<MatmulPlan> vec4_plan(std::size_t tile_m, std::size_t tile_n) const;
  // Halves vec4 blocks while they lie mostly outside an M x N product, then while fewer than
  // `wanted` of them (times batch) cover it and the halves keep least_items work-items.
  MatmulPlan shrink_blocks(MatmulPlan plan, std::size_t m, std::size_t n, std::size_t batch,
                           std::size_t wanted, std::size_t least_items = 1) const;
  // The vec4 plan with blocks half as wide (not below 64 columns) where they compute fewer
  // columns past N.
  MatmulPlan narrower_if_less_padding(MatmulPlan plan, std::size_t n) const;
  // Steps of 16 along K for a vec4 plan whose blocks of an M x N product (times batch) each get
  // a compute unit of their own.
  MatmulPlan longest_k_step_if_alone(MatmulPlan plan, std::size_t m, std::size_t n,
                                     std::size_t batch) const;
  // A vec4 plan one work-group of which a unit's registers hold, as blocks of half its rows
  // (two of which they hold) where an M x N product's blocks (times batch) would leave the last
  // wave of the units half full or less, or make one wave at most.
  MatmulPlan halved_for_last_wave(const MatmulPlan& plan, std::size_t m, std::size_t n,
                                  std::size_t batch) const;
  // The GEMM kernel's plan with steps of 16 where a compute unit's registers hold two
  // work-groups of it (only where the device says how many it has); else the plan.
  MatmulPlan long_steps_if_registers_hold(const MatmulPlan& plan) const;
  // gemm_cpu's plan with fewer vectors a row (and more rows) where an m x n product's blocks
  // compute much less that way.
  MatmulPlan cpu_blocks_for(const MatmulPlan& plan, std::size_t m, std::size_t n) const;
  // Whether an operand of `floats` floats stays in half of a core's cache (PoCL sizes local
  // memory to it) beside the other operands: gemm_cpu's block order depends on it.
  bool cpu_cache_holds(std::size_t floats) const;
  // gemm_cpu's plan taking its blocks column by column where one product's B (k x n) does not
  // stay in the cache (cpu_cache_holds).
  MatmulPlan cpu_columns_first_if_b_fills_cache(MatmulPlan plan, std::size_t m, std::size_t n,
                                                std::size_t k) const;
  // The plan with steps of tile_k where they are longer and fit; else the plan.
  MatmulPlan with_k_step(MatmulPlan plan, std::size_t tile_k) const;
  // The plan with steps of tile_k where they are shorter and fit; else the plan.
  MatmulPlan with_k_step_at_most(MatmulPlan plan, std::size_t tile_k) const;

  DeviceInfo device_;
};

}  // namespace clnn
