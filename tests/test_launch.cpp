// LaunchPlanner on synthetic devices: every plan respects the device's limits and follows them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>

#include "clnn/launch.hpp"

namespace {

using clnn::DeviceInfo;
using clnn::DeviceType;
using clnn::LaunchPlanner;

DeviceInfo gpu(std::uint64_t local_mem, std::size_t max_wg, std::size_t simd,
               std::uint32_t units = 64) {
  DeviceInfo d;
  d.name = "synthetic GPU";
  d.type = DeviceType::gpu;
  d.compute_units = units;
  d.local_mem_size = local_mem;
  d.local_mem_is_dedicated = true;
  d.max_work_group_size = max_wg;
  d.max_work_item_sizes = {max_wg, max_wg, 64};
  d.preferred_work_group_multiple = simd;
  d.simd_width = simd;
  return d;
}

DeviceInfo cpu() {
  DeviceInfo d;
  d.name = "synthetic CPU";
  d.type = DeviceType::cpu;
  d.compute_units = 2;
  d.local_mem_size = 2u << 20;
  d.local_mem_is_dedicated = false;
  d.max_work_group_size = 4096;
  d.max_work_item_sizes = {4096, 4096, 4096};
  d.preferred_work_group_multiple = 8;
  d.simd_width = 8;
  return d;
}

void check_matmul_limits(const DeviceInfo& d) {
  auto plan = LaunchPlanner(d).matmul();
  INFO(plan.build_options());
  CHECK(plan.work_group_size() <= d.max_work_group_size);
  CHECK(plan.local_x() <= d.max_work_item_sizes[0]);
  CHECK(plan.local_y() <= d.max_work_item_sizes[1]);
  CHECK(plan.local_mem_bytes() <= d.local_mem_size / 2);
  CHECK(plan.tile_m % plan.work_m == 0);
  CHECK(plan.tile_n % plan.work_n == 0);
}

}  // namespace

TEST_CASE("matmul tiles follow local memory size", "[launch]") {
  auto small = LaunchPlanner(gpu(16 << 10, 1024, 32)).matmul();
  auto nvidia = LaunchPlanner(gpu(48 << 10, 1024, 32)).matmul();
  auto amd = LaunchPlanner(gpu(64 << 10, 1024, 64)).matmul();
  for (auto local : {16 << 10, 32 << 10, 48 << 10, 64 << 10})
    check_matmul_limits(gpu(local, 1024, 32));

  CHECK(small.use_local_memory);
  CHECK(nvidia.use_local_memory);
  CHECK(amd.use_local_memory);
  // More local memory buys bigger staged tiles, never smaller ones.
  CHECK(small.local_mem_bytes() < nvidia.local_mem_bytes());
  CHECK(nvidia.local_mem_bytes() <= amd.local_mem_bytes());
  CHECK(small.tile_m * small.tile_n < nvidia.tile_m * nvidia.tile_n);
  CHECK(nvidia.tile_k <= amd.tile_k);
  CHECK(small.local_mem_bytes() <= 8 << 10);
  CHECK(nvidia.local_mem_bytes() <= 24 << 10);
  CHECK(amd.local_mem_bytes() <= 32 << 10);
}

TEST_CASE("matmul work-groups follow the work-group limit", "[launch]") {
  for (std::size_t max_wg : {1024, 256, 128, 64, 16, 1}) {
    INFO("max work-group " << max_wg);
    check_matmul_limits(gpu(48 << 10, max_wg, 32));
  }
  auto wide = LaunchPlanner(gpu(48 << 10, 1024, 32)).matmul();
  auto narrow = LaunchPlanner(gpu(48 << 10, 256, 32)).matmul();
  auto tiny = LaunchPlanner(gpu(48 << 10, 32, 32)).matmul();
  CHECK(wide.work_group_size() <= 1024);
  CHECK(narrow.work_group_size() <= 256);
  CHECK(tiny.work_group_size() <= 32);
  CHECK(tiny.tile_m * tiny.tile_n < narrow.tile_m * narrow.tile_n);

  DeviceInfo limited_items = gpu(48 << 10, 1024, 32);
  limited_items.max_work_item_sizes = {8, 8, 1};
  check_matmul_limits(limited_items);
}

TEST_CASE("CPU devices get matmul without local memory", "[launch]") {
  auto plan = LaunchPlanner(cpu()).matmul();
  CHECK_FALSE(plan.use_local_memory);
  CHECK(plan.local_mem_bytes() == 0);
  CHECK(plan.build_options().find("-DUSE_LOCAL_MEMORY=0") != std::string::npos);
  check_matmul_limits(cpu());
  // A GPU whose local memory is emulated in global memory is treated the same way.
  DeviceInfo emulated = gpu(32 << 10, 256, 32);
  emulated.local_mem_is_dedicated = false;
  CHECK_FALSE(LaunchPlanner(emulated).matmul().use_local_memory);
}

TEST_CASE("elementwise plan follows SIMD width and work-group limit and compute units",
          "[launch]") {
  auto nvidia = LaunchPlanner(gpu(48 << 10, 1024, 32, 132)).elementwise();
  CHECK(nvidia.local_size == 256);
  CHECK(nvidia.local_size % 32 == 0);
  auto amd = LaunchPlanner(gpu(64 << 10, 256, 64, 60)).elementwise();
  CHECK(amd.local_size % 64 == 0);
  CHECK(amd.local_size <= 256);
  auto small = LaunchPlanner(gpu(16 << 10, 128, 32, 4)).elementwise();
  CHECK(small.local_size == 128);
  auto odd = LaunchPlanner(gpu(16 << 10, 96, 64, 4)).elementwise();
  CHECK(odd.local_size <= 96);
  CHECK(odd.local_size == 64);
  auto narrow = LaunchPlanner(gpu(16 << 10, 48, 64, 4)).elementwise();
  CHECK(narrow.local_size == 32);  // below one SIMD group: a power of two that fits

  CHECK(nvidia.max_groups > small.max_groups);  // more compute units, more groups
  CHECK(nvidia.max_groups >= 132);
}

TEST_CASE("elementwise global size covers n in whole work-groups", "[launch]") {
  auto plan = LaunchPlanner(gpu(48 << 10, 1024, 32, 4)).elementwise();
  for (std::size_t n : {1ul, 7ul, 256ul, 257ul, 1000003ul}) {
    INFO(n);
    std::size_t global = plan.global_size(n);
    CHECK(global % plan.local_size == 0);
    CHECK(global >= plan.local_size);
    CHECK(global <= plan.max_groups * plan.local_size);
    CHECK((global >= n || global == plan.max_groups * plan.local_size));
  }
}

TEST_CASE("plans are deterministic", "[launch]") {
  auto d = gpu(48 << 10, 1024, 32);
  CHECK(LaunchPlanner(d).matmul().build_options() == LaunchPlanner(d).matmul().build_options());
  CHECK(LaunchPlanner(d).elementwise().local_size == LaunchPlanner(d).elementwise().local_size);
}

TEST_CASE("reduction plan is a power of two within the limits", "[launch]") {
  for (auto d : {gpu(48 << 10, 1024, 32), gpu(16 << 10, 96, 64), gpu(512, 1024, 32), cpu()}) {
    auto plan = LaunchPlanner(d).reduction();
    INFO(plan.local_size);
    CHECK((plan.local_size & (plan.local_size - 1)) == 0);
    CHECK(plan.local_size <= d.max_work_group_size);
    CHECK(plan.local_size * sizeof(float) <= d.local_mem_size / 2);
  }
  CHECK(LaunchPlanner(gpu(16 << 10, 96, 64)).reduction().local_size == 64);
  CHECK(LaunchPlanner(gpu(512, 1024, 32)).reduction().local_size == 64);
}

TEST_CASE("every plan respects the limits of vendor-like devices and follows them", "[launch]") {
  struct Case {
    const char* name;
    DeviceInfo device;
  };
  DeviceInfo nvidia = gpu(48 << 10, 1024, 32, 132);
  DeviceInfo amd = gpu(64 << 10, 256, 64, 60);
  DeviceInfo intel = gpu(64 << 10, 512, 16, 96);
  DeviceInfo small = gpu(16 << 10, 128, 32, 8);
  small.max_work_item_sizes = {128, 128, 64};
  const std::vector<Case> cases{
      {"nvidia", nvidia}, {"amd", amd}, {"intel", intel}, {"pocl", cpu()}, {"small", small}};
  for (const Case& c : cases) {
    INFO(c.name);
    const LaunchPlanner planner(c.device);
    const auto e = planner.elementwise();
    CHECK(e.local_size <= c.device.max_work_group_size);
    CHECK((e.local_size % c.device.simd_width == 0 || e.local_size < c.device.simd_width));
    CHECK(e.max_groups >= c.device.compute_units);
    const auto m = planner.matmul();
    CHECK(planner.plannable(m));
    CHECK(m.use_local_memory == (c.device.type == DeviceType::gpu));
    const auto r = planner.reduction();
    CHECK((r.local_size & (r.local_size - 1)) == 0);
    CHECK(r.local_size <= c.device.max_work_group_size);
    CHECK(r.local_size * sizeof(float) <= c.device.local_mem_size / 2);
    // "A few thousand" elements a work-item at most, so a pass stays parallel.
    CHECK(r.max_serial >= 256);
    CHECK(r.max_serial <= 4096);
    CHECK(planner.fits(r));
    CHECK(planner.prefers_row_loops() == (c.device.type == DeviceType::cpu));
  }
  // The limits move the plans.
  CHECK(LaunchPlanner(amd).elementwise().local_size % 64 == 0);
  CHECK(LaunchPlanner(small).matmul().work_group_size() <= 128);
  CHECK(LaunchPlanner(small).matmul().local_mem_bytes() <
        LaunchPlanner(nvidia).matmul().local_mem_bytes());
  CHECK(LaunchPlanner(small).reduction().local_size <= 128);
  CHECK(LaunchPlanner(small).elementwise().max_groups <
        LaunchPlanner(nvidia).elementwise().max_groups);
}

TEST_CASE("the CPU matmul plan follows the native vector width", "[launch]") {
  DeviceInfo avx512 = cpu(), avx2 = cpu(), sse = cpu();
  avx512.native_vector_width = 16;
  avx2.native_vector_width = 8;
  sse.native_vector_width = 4;
  for (const DeviceInfo& d : {avx512, avx2, sse}) {
    INFO("native width " << d.native_vector_width);
    const auto plan = LaunchPlanner(d).matmul();
    CHECK(plan.kernel == clnn::MatmulKernel::cpu);
    // Whole native vectors, several a row (one a row bound the kernel to its loads), and the
    // sums with B's vectors and A's broadcast within the vector registers.
    const std::size_t width = d.native_vector_width, vectors = plan.work_n / width;
    const std::size_t registers = width == 16 ? 32 : 16;
    CHECK(plan.work_n % width == 0);
    CHECK(vectors > 1);
    CHECK(plan.work_m * vectors + vectors + 1 <= registers);
    CHECK(LaunchPlanner(d).plannable(plan));
  }
  // Half as many vector registers without AVX-512: fewer rows per block.
  CHECK(LaunchPlanner(avx2).matmul().work_m < LaunchPlanner(avx512).matmul().work_m);
}

TEST_CASE("a single large product on a CPU shares B's rows in groups along M", "[launch]") {
  DeviceInfo d = cpu();
  d.native_vector_width = 16;
  const LaunchPlanner planner(d);
  const auto rows = planner.matmul();
  const auto single = planner.matmul(1024, 1024, 1, 1024);
  CHECK(single.tile_n == single.work_n);
  CHECK(single.tile_m == 4 * single.work_m);
  CHECK(single.tile_k > 1);  // steps of K between barriers
  CHECK(single.work_m == rows.work_m);
  CHECK(single.work_n == rows.work_n);
  CHECK(planner.fits(single));
  // Batched, smaller or of unknown K: work-items in rows without barriers (their blocks column
  // by column where B fills the cache).
  for (const auto& plan : {planner.matmul(1024, 1024, 32, 1024), planner.matmul(64, 3136, 1, 256),
                           planner.matmul(2048, 49, 1, 512), planner.matmul(1024, 1024, 1)}) {
    CHECK(plan.tile_m == plan.work_m);
    CHECK(plan.tile_k == 1);
  }
}

TEST_CASE("a CPU product whose B fills a core's cache takes its blocks column by column",
          "[launch]") {
  DeviceInfo d = cpu();  // 2 MiB of local memory: PoCL's size of a core's cache
  d.native_vector_width = 16;
  const LaunchPlanner planner(d);
  // ResNet-50's C256 56x56 K64 at batch 32 (B 3.2 MB a sample) and C512 28x28 K128 (1.6 MB).
  for (const auto& plan : {planner.matmul(64, 3136, 32, 256), planner.matmul(128, 784, 32, 512)}) {
    CHECK(plan.columns_first);
    CHECK(plan.tile_m == plan.work_m);
    CHECK(plan.tile_k == 1);
    CHECK(planner.fits(plan));
    CHECK_THAT(plan.build_options(), Catch::Contains("-DCOLUMNS_FIRST=1"));
  }
  // At batch 1 too, where A (128 KB and 256 KB) stays in the cache: ResNet-50's C256 56x56 K128
  // and C512 28x28 K128 rather than blocks that share B's rows.
  for (const auto& plan : {planner.matmul(128, 3136, 1, 256), planner.matmul(128, 784, 1, 512)}) {
    CHECK(plan.columns_first);
    CHECK(plan.tile_k == 1);
  }
  // A of 4 MB (SGEMM 1024) keeps the shared rows.
  CHECK(planner.matmul(1024, 1024, 1, 1024).tile_k > 1);
  // A B of 0.8 MB stays in the cache between rows of blocks; one row of blocks reads it once;
  // unknown K says nothing.
  for (const auto& plan : {planner.matmul(256, 3136, 32, 64), planner.matmul(8, 3136, 32, 256),
                           planner.matmul(64, 3136, 32)})
    CHECK_FALSE(plan.columns_first);
  // A smaller cache: the 0.8 MB fills it.
  d.local_mem_size = 1u << 20;
  CHECK(LaunchPlanner(d).matmul(256, 3136, 32, 64).columns_first);
}

TEST_CASE("a CPU product of short rows takes fewer vectors a row and more rows", "[launch]") {
  DeviceInfo d = cpu();
  d.native_vector_width = 16;
  const LaunchPlanner planner(d);
  const auto rows = planner.matmul();  // 8 rows of 3 vectors
  // 49 columns: blocks of 48 would compute 96 a row, blocks of 32 compute 64.
  const auto short_rows = planner.matmul(960, 49, 32, 160);
  CHECK(short_rows.work_n == 32);
  CHECK(short_rows.work_m == 12);
  CHECK(short_rows.tile_m == short_rows.work_m);
  CHECK(short_rows.tile_n / short_rows.work_n == rows.tile_n / rows.work_n);
  CHECK(planner.fits(short_rows));
  // The same registers for the sums.
  CHECK(short_rows.work_m * short_rows.work_n == rows.work_m * rows.work_n);
  // Within a tenth of the fewest, the most vectors: 196 columns of 64 rows compute 240 x 64 in
  // blocks of 8 x 48, 208 x 72 in blocks of 24 x 16 (a tenth less would be 14,976 x 1.1).
  const auto wide = planner.matmul(64, 196, 32, 384);
  CHECK(wide.work_n == rows.work_n);
  CHECK(wide.work_m == rows.work_m);
  // 16 columns: one vector, 24 rows.
  const auto one = planner.matmul(96, 16, 4, 64);
  CHECK(one.work_n == 16);
  CHECK(one.work_m == 24);
}

TEST_CASE("the padded convolution's blocks follow the vector registers", "[launch]") {
  DeviceInfo avx512 = cpu(), avx2 = cpu();
  avx512.native_vector_width = 16;
  avx2.native_vector_width = 8;
  const LaunchPlanner wide(avx512), narrow(avx2);
  // Forward: 8 filters x 3 vectors of 16 floats in sums on AVX-512, 4 x 3 of 8 on AVX2; fewer
  // filters where the count allows no more, with up to 4 vectors.
  CHECK(wide.padded_conv(64).vector == 16);
  CHECK(wide.padded_conv(64).filters == 8);
  CHECK(wide.padded_conv(64).vectors == 3);
  CHECK(wide.padded_conv(64).reach() == 48);
  CHECK(wide.padded_conv(24).filters == 8);
  CHECK(wide.padded_conv(12).filters == 4);
  CHECK(wide.padded_conv(12).vectors == 4);
  CHECK(wide.padded_conv(5).filters == 1);
  CHECK(wide.padded_conv(5).vectors == 4);
  CHECK(narrow.padded_conv(64).vector == 8);
  CHECK(narrow.padded_conv(64).filters == 4);
  CHECK(narrow.padded_conv(64).vectors == 3);
  // Fewer vectors where the span's last work-items would waste 5% more: a 7x7 plane (61
  // positions of the copy) and a 14x14 one (222) as 2 vectors, a 56x56 one (3,246) and long
  // spans, where the counts differ by rounding alone, as 3; one filter (depthwise) keeps 4.
  CHECK(wide.padded_conv(64, 1, 61).vectors == 2);
  CHECK(wide.padded_conv(64, 1, 222).vectors == 2);
  CHECK(wide.padded_conv(64, 1, 3246).vectors == 3);
  CHECK(wide.padded_conv(64, 1, 16).vectors == 1);
  CHECK(wide.padded_conv(1, 1, 61).vectors == 4);
  CHECK(wide.padded_conv(1, 1, 222).vectors == 4);
  CHECK(narrow.padded_conv(64, 1, 61).vectors == 2);  // 4 filters x 8 floats: 96 lanes as 3
  for (std::size_t span = 1000; span <= 20000; span += 7) {
    INFO("span " << span);
    CHECK(wide.padded_conv(64, 1, span).vectors == 3);
    CHECK(narrow.padded_conv(64, 1, span).vectors == 3);
  }
  // Where the loop keeps more addresses live (strides, taps not unrolled), 16 sums on AVX-512:
  // 8 filters x 2 vectors, 4 x 4; AVX2 keeps its 12, and the weight gradient its plan.
  CHECK(wide.padded_conv(64, 1, 0, true).filters == 8);
  CHECK(wide.padded_conv(64, 1, 0, true).vectors == 2);
  CHECK(wide.padded_conv(4, 1, 0, true).vectors == 4);
  CHECK(wide.padded_conv(1, 1, 61, true).vectors == 4);
  CHECK(wide.padded_conv(64, 1, 61, true).vectors == 2);
  CHECK(narrow.padded_conv(64, 1, 0, true).vectors == 3);
  for (std::size_t filters : {1, 2, 4, 8, 12, 64})  // within what fits() sized the copy for
    for (std::size_t span : {0, 16, 61, 222, 3246})
      CHECK(wide.padded_conv(filters, 1, span, true).reach() <= wide.padded_conv(filters).reach());
  CHECK(wide.padded_conv(32, 9, 0, true).taps == wide.padded_conv(32, 9).taps);
  CHECK(wide.padded_conv(32, 9, 0, true).gradient_filters ==
        wide.padded_conv(32, 9).gradient_filters);
  for (const auto* planner : {&wide, &narrow})  // the padded copies' widest reach (conv_padded)
    for (std::size_t filters : {1, 2, 3, 4, 8, 64})
      CHECK(planner->padded_conv(filters).reach() <= 64);
  // Weight gradient: two filters where the count allows, their taps in as few blocks as the 24
  // (12) sums hold, then more filters; one filter's taps where the count is odd.
  const clnn::PaddedConvPlan three = wide.padded_conv(32, 9), five = wide.padded_conv(32, 25);
  CHECK(three.taps == 9);
  CHECK(three.gradient_filters == 2);
  CHECK(five.taps == 9);  // three blocks of 9, 9 and 7
  CHECK(five.gradient_filters == 2);
  CHECK(wide.padded_conv(5, 25).taps == 13);  // two blocks of 13 and 12
  CHECK(wide.padded_conv(5, 25).gradient_filters == 1);
  CHECK(wide.padded_conv(64, 1).gradient_filters == 16);
  CHECK(wide.padded_conv(6, 1).gradient_filters == 2);
  CHECK(narrow.padded_conv(32, 9).gradient_filters == 2);
  CHECK(narrow.padded_conv(32, 9).taps == 5);   // two blocks of 5 and 4
  CHECK(narrow.padded_conv(32, 27).taps == 6);  // five blocks
  // Every plan fits its device's sums and divides the filters, and its filters' taps take as few
  // blocks as those sums allow.
  for (auto [planner, sums] :
       {std::pair{&wide, std::size_t(24)}, std::pair{&narrow, std::size_t(12)}})
    for (std::size_t filters : {1, 2, 3, 5, 6, 64})
      for (std::size_t taps : {1, 4, 9, 25, 27, 49}) {
        INFO(sums << " sums, " << filters << " filters, " << taps << " taps");
        const clnn::PaddedConvPlan p = planner->padded_conv(filters, taps);
        CHECK(p.gradient_filters * p.taps <= sums);
        CHECK(filters % p.gradient_filters == 0);
        const std::size_t most = sums / p.gradient_filters;  // taps a block can hold
        CHECK((taps + p.taps - 1) / p.taps == (taps + most - 1) / most);
      }
}

TEST_CASE("the padded convolution takes blocks of filters first where its copy fills the cache",
          "[launch]") {
  // A sample's copy beyond half of a core's cache (the synthetic CPU's local memory) and larger
  // than the filters: filters first; a copy the cache holds, or filters larger than it, not.
  const DeviceInfo d = cpu();
  const LaunchPlanner planner(d);
  const std::size_t half = d.local_mem_size / 2 / sizeof(float);
  CHECK(planner.padded_filters_first(4 * half, half));
  CHECK_FALSE(planner.padded_filters_first(half, 16));
  CHECK_FALSE(planner.padded_filters_first(4 * half, 8 * half));
  CHECK_FALSE(LaunchPlanner(gpu(49152, 1024, 32)).padded_filters_first(1 << 24, 16));  // CPUs only
}

TEST_CASE("matmul blocks shrink until a product occupies the device", "[launch]") {
  const LaunchPlanner nvidia(gpu(48 << 10, 1024, 32, 132));
  const auto big = nvidia.matmul(4096, 4096, 1);
  CHECK(big.tile_m == nvidia.matmul().tile_m);
  CHECK(big.tile_n == nvidia.matmul().tile_n);
  const auto mid = nvidia.matmul(1024, 1024, 1);  // 64 blocks of 128x128 for 132 units
  CHECK(mid.tile_m * mid.tile_n < big.tile_m * big.tile_n);
  CHECK((1024 / mid.tile_m) * (1024 / mid.tile_n) >= 132 * 3 / 4);
  // At most one block per unit: the longest k-step that fits; many per unit: the planner's,
  // which leaves room for a second.
  CHECK((1024 / mid.tile_m) * (1024 / mid.tile_n) <= 132);
  CHECK(mid.tile_k == 16);
  CHECK(nvidia.fits(mid));
  CHECK(big.tile_k == nvidia.matmul().tile_k);
  CHECK(big.tile_k < 16);
  CHECK(nvidia.matmul(1024, 1024, 8).tile_m == big.tile_m);  // a batch fills it too
  const auto skinny = nvidia.matmul(64, 100352, 1);          // a convolution's 64 output channels
  CHECK(skinny.tile_m == 64);
  CHECK(skinny.tile_n == big.tile_n);
  const auto tiny = nvidia.matmul(8, 8, 1);
  CHECK(nvidia.plannable(tiny));
  CHECK(tiny.tile_m >= 32);
  const LaunchPlanner few_units(gpu(48 << 10, 1024, 32, 4));
  CHECK(few_units.matmul(1024, 1024, 1).tile_m == few_units.matmul().tile_m);
  const LaunchPlanner host(cpu());
  CHECK(host.matmul(1024, 1024, 1).tile_n == host.matmul().tile_n);
}

TEST_CASE("known registers lengthen the steps of blocks two of which they hold", "[launch]") {
  DeviceInfo h100 = gpu(48 << 10, 1024, 32, 132);
  const LaunchPlanner unknown(h100);
  h100.registers_per_group = 65536;
  const LaunchPlanner known(h100);
  // 64 x 128 blocks (128 work-items), many per unit: a weight gradient's slices.
  const auto slices = known.matmul(64, 576, 52), slices_unknown = unknown.matmul(64, 576, 52);
  CHECK(slices.tile_m * slices.tile_n == 64 * 128);
  CHECK(slices.tile_k == 16);
  CHECK(known.fits(slices));
  CHECK(slices_unknown.tile_k == 8);  // tiles within half of local memory
  CHECK(known.matmul_for_split_k(64, 576, 50176).tile_k == 16);
  // 128 x 128 blocks (256 work-items) would leave room for one work-group: steps stay short.
  CHECK(known.matmul(4096, 4096, 1).tile_m == 128);
  CHECK(known.matmul(4096, 4096, 1).tile_k == 8);
  // Unless their last wave would be under half full (300 blocks, 36 in the third wave): blocks
  // of half the rows, two a unit, with steps of 16. 900 blocks (108 in the last) stay whole.
  const auto last_wave = known.matmul(6304, 768, 1);
  CHECK(last_wave.tile_m == 64);
  CHECK(last_wave.tile_n == 128);
  CHECK(last_wave.tile_k == 16);
  CHECK(known.matmul(6304, 2304, 1).tile_m == 128);
  CHECK(unknown.matmul(6304, 768, 1).tile_m == 128);  // registers unknown: as before
  // Few rows (a transformer's tokens at batch 1): blocks keep four SIMD groups (128 work-items).
  CHECK(known.matmul(197, 768, 1).work_group_size() == 128);
  // Half as many registers hold one work-group of 128 work-items with steps of 16.
  h100.registers_per_group = 32768;
  CHECK(LaunchPlanner(h100).matmul(64, 576, 52).tile_k == 8);
  // The implicit convolution keeps its own rule (its kernel takes more registers).
  CHECK(known.implicit_conv(64, 100352, 1).tile_k == unknown.implicit_conv(64, 100352, 1).tile_k);
}

TEST_CASE("a product that splits K keeps blocks that fit it", "[launch]") {
  // A weight gradient, 64 filters by 576 taps: 9 blocks of 64x64 would leave most of 132 units
  // idle, which matmul(m, n, batch) answers with smaller blocks (of four SIMD groups at least,
  // K then split where the product is small) and split-K with slices.
  const LaunchPlanner nvidia(gpu(48 << 10, 1024, 32, 132));
  const auto shrunk = nvidia.matmul(64, 576, 1);
  const auto for_split = nvidia.matmul_for_split_k(64, 576, 50176);
  CHECK(for_split.tile_m == 64);  // not mostly outside the 64 rows
  CHECK(shrunk.tile_m * shrunk.tile_n < nvidia.matmul().tile_m * nvidia.matmul().tile_n);
  CHECK(shrunk.work_group_size() >= 4 * 32);
  CHECK(nvidia.plannable(for_split));
  // Columns in blocks of 64 where 128 would compute more past N (576: 640 against 576; 288: 384
  // against 320), not narrower (32 x 32 blocks ran slower), and 128 where they compute no more.
  CHECK(for_split.tile_n == 64);
  const auto thirty_two = nvidia.matmul_for_split_k(32, 288, 415744);
  CHECK(thirty_two.tile_m == 32);
  CHECK(thirty_two.tile_n == 64);
  CHECK(thirty_two.tile_k == 8);  // work-groups of one SIMD group: more of them resident
  CHECK(nvidia.matmul_for_split_k(64, 1024, 50176).tile_n == nvidia.matmul().tile_n);
  CHECK(nvidia.matmul_for_split_k(64, 200, 50176).tile_n == nvidia.matmul().tile_n);
  // CPUs split K for no occupancy: the blocks are an unsplit product's, here fewer vectors a row
  // for mobilenet_v2's 49 columns.
  DeviceInfo avx512 = cpu();
  avx512.native_vector_width = 16;
  const LaunchPlanner host(avx512);
  CHECK(host.matmul_for_split_k(64, 576, 50176).describe() ==
        host.matmul(64, 576, 1, 50176).describe());
  const auto seven = host.matmul_for_split_k(320, 49, 960);
  CHECK(seven.describe() == host.matmul(320, 49, 1, 960).describe());
  CHECK(seven.work_n < host.matmul().work_n);
}

TEST_CASE("fits rejects configurations beyond the device", "[launch]") {
  const LaunchPlanner nvidia(gpu(48 << 10, 1024, 32));
  CHECK(nvidia.fits({true, 64, 64, 16, 4, 4}));
  CHECK_FALSE(nvidia.fits({true, 128, 128, 64, 8, 8}));  // 64 KiB of tiles: over 48 KiB
  CHECK(nvidia.fits({true, 128, 128, 32, 8, 8}));        // 32 KiB: fits, with none to spare
  CHECK_FALSE(nvidia.plannable({true, 128, 128, 32, 8, 8}));
  CHECK_FALSE(nvidia.fits({true, 128, 128, 8, 2, 2}));  // 4096 work-items
  CHECK_FALSE(nvidia.fits({true, 64, 64, 8, 3, 4}));    // blocks do not divide the tile
  CHECK(LaunchPlanner(cpu()).fits({false, 32, 32, 8, 4, 4}));
  DeviceInfo no_local = cpu();
  no_local.local_mem_size = 0;
  CHECK_FALSE(LaunchPlanner(no_local).fits({true, 32, 32, 8, 4, 4}));
  CHECK(LaunchPlanner(no_local).fits({false, 32, 32, 8, 4, 4}));
  // Each kernel's own rules.
  using clnn::MatmulKernel;
  CHECK(nvidia.fits({true, 128, 128, 8, 8, 8, MatmulKernel::vec4}));
  CHECK_FALSE(nvidia.fits({true, 128, 128, 4, 8, 8, MatmulKernel::vec4}));  // partial float4 loads
  CHECK_FALSE(nvidia.fits({true, 64, 64, 8, 4, 4, MatmulKernel::vec4}));    // blocks are 8x8
  CHECK_FALSE(nvidia.fits({false, 64, 64, 8, 8, 8, MatmulKernel::vec4}));   // stages tiles
  CHECK(LaunchPlanner(cpu()).fits({false, 8, 64, 1, 8, 16, MatmulKernel::cpu}));
  CHECK(LaunchPlanner(cpu()).fits({false, 8, 192, 1, 8, 48, MatmulKernel::cpu}));        // 3 x 16
  CHECK(LaunchPlanner(cpu()).fits({false, 8, 48, 1, 8, 12, MatmulKernel::cpu}));         // 3 x 4
  CHECK_FALSE(LaunchPlanner(cpu()).fits({false, 8, 80, 1, 8, 20, MatmulKernel::cpu}));   // 5 x 4
  CHECK_FALSE(LaunchPlanner(cpu()).fits({false, 8, 60, 1, 8, 6, MatmulKernel::cpu}));    // width
  CHECK(LaunchPlanner(cpu()).fits({false, 32, 48, 128, 8, 48, MatmulKernel::cpu}));      // a column
  CHECK_FALSE(LaunchPlanner(cpu()).fits({false, 16, 96, 1, 8, 48, MatmulKernel::cpu}));  // 2 x 2
  CHECK_FALSE(LaunchPlanner(cpu()).fits({false, 8, 96, 8, 8, 48, MatmulKernel::cpu}));   // barriers
  CHECK_FALSE(LaunchPlanner(cpu()).fits({false, 16, 64, 1, 8, 16, MatmulKernel::cpu}));  // rows
}

TEST_CASE("an implicit convolution keeps large blocks and lengthens their steps", "[launch]") {
  const LaunchPlanner nvidia(gpu(48 << 10, 1024, 32, 132));
  const auto largest = nvidia.matmul();
  auto blocks = [](const clnn::MatmulPlan& p, std::size_t m, std::size_t n) {
    return ((m + p.tile_m - 1) / p.tile_m) * ((n + p.tile_n - 1) / p.tile_n);
  };
  // 256 filters by 6272 columns: 98 blocks of the largest size stay whole (a product would
  // shrink them to occupy 3/4 of the units), and with one block per unit, steps of 16 fit.
  const auto whole = nvidia.implicit_conv(256, 6272, 1);
  CHECK(whole.tile_m == largest.tile_m);
  CHECK(whole.tile_n == largest.tile_n);
  CHECK(nvidia.matmul(256, 6272, 1).tile_m * nvidia.matmul(256, 6272, 1).tile_n <
        whole.tile_m * whole.tile_n);
  CHECK(whole.tile_k == 16);
  CHECK(nvidia.fits(whole));
  // Many blocks per unit keep the planner's step, which leaves local memory for a second one.
  const auto many = nvidia.implicit_conv(64, 100352, 1);
  CHECK(many.tile_m == 64);
  CHECK(blocks(many, 64, 100352) > 132);
  CHECK(many.tile_k == largest.tile_k);
  CHECK(nvidia.plannable(many));
  // Filters of several taps (3x3x3) take steps of 16 however many blocks there are.
  const auto taps = nvidia.implicit_conv(64, 100352, 1, 27);
  CHECK(taps.tile_m == many.tile_m);
  CHECK(taps.tile_n == many.tile_n);
  CHECK(taps.tile_k == 16);
  CHECK(taps.tile_k > many.tile_k);
  CHECK(nvidia.fits(taps));
  // Few columns: blocks shrink toward half the units having one, but keep two SIMD groups of
  // work-items; slices of K fill the units instead.
  const auto few = nvidia.implicit_conv(64, 2048, 1);
  CHECK(few.work_group_size() >= 2 * 32);
  CHECK(few.tile_m * few.tile_n < largest.tile_m * largest.tile_n);
  const auto last_layer = nvidia.implicit_conv(512, 49, 1);  // resnet50's 1x1 2048 -> 512, 7x7
  CHECK(last_layer.work_group_size() >= 2 * 32);
  CHECK(last_layer.tile_n == 64);
  const std::size_t last_blocks = blocks(last_layer, 512, 49);
  CHECK(last_blocks * nvidia.k_slices(last_layer, last_blocks, 2048) >= 132);
  // A small device (16 KiB of local memory, 128 work-items) keeps to its limits; the CPU to its
  // own kernel.
  const LaunchPlanner small(gpu(16 << 10, 128, 32, 8));
  for (std::size_t m : {16, 32, 64, 512})
    for (std::size_t n : {64, 100000})
      for (std::size_t taps : {1, 9}) CHECK(small.fits(small.implicit_conv(m, n, 1, taps)));
  const LaunchPlanner host(cpu());
  CHECK(host.implicit_conv(64, 100000, 1).kernel == host.matmul().kernel);
}

TEST_CASE("split-K slices fill waves of resident blocks", "[launch]") {
  const LaunchPlanner nvidia(gpu(48 << 10, 1024, 32, 132));
  const clnn::MatmulPlan big{true, 128, 128, 16, 8, 8, clnn::MatmulKernel::vec4};  // 33 KiB
  const clnn::MatmulPlan small{true, 64, 128, 8, 8, 8, clnn::MatmulKernel::vec4};  // 13 KiB
  // 98 blocks, one per unit at a time: 2 or 3 slices take 2 or 3 waves of as many rows in all,
  // 4 slices 3 waves of a quarter of the rows.
  CHECK(nvidia.k_slices(big, 98, 2304) == 4);
  // Three blocks per unit: 196 blocks in 2 slices still fit one wave; 784 take two either way.
  CHECK(nvidia.k_slices(small, 196, 800) == 2);
  CHECK(nvidia.k_slices(small, 784, 576) == 1);
  // Too few rows for slices of 256: no split, unless the blocks would leave most units idle (a
  // batch-1 convolution's), which slices of at least 64 rows then occupy: 4 of 80 rows here.
  CHECK(nvidia.k_slices(big, 132, 300) == 1);
  CHECK(nvidia.k_slices(big, 4, 300) == 4);
  CHECK(nvidia.k_slices(big, 10, 960) == 12);              // 120 blocks of 80 rows: one wave of 132
  CHECK(LaunchPlanner(cpu()).k_slices(big, 4, 300) == 1);  // a CPU's units are its cores
  const std::size_t lone = nvidia.k_slices(big, 1, 100000);  // one block: a slice per unit
  CHECK(lone > 100);
  CHECK(lone <= 132);
  // Local memory decides how many blocks a unit holds: 196 blocks of one per unit take two
  // waves, which two slices of half the rows beat; where a unit holds two, one wave serves.
  CHECK(nvidia.k_slices(big, 196, 800) == 2);
  const LaunchPlanner roomy(gpu(96 << 10, 1024, 32, 132));
  CHECK(roomy.k_slices(big, 196, 800) == 1);
  // On 4 units, 98 blocks take 25 waves; slices would save too little to pay their sums.
  const LaunchPlanner few_units(gpu(48 << 10, 1024, 32, 4));
  CHECK(few_units.k_slices(big, 98, 2304) == 1);
}

TEST_CASE("a plain product splits K where its blocks leave the last wave short", "[launch]") {
  // An H200 whose units each hold two blocks (split_k_blocks_per_unit): vit_b_16's products of
  // N = 768 at batch 32 are 300 blocks of 128 x 128, two waves of 264 slots with the second
  // nearly empty; split, K = 3072 fills the waves (K = 768 is too short to); 1024 blocks (a 4096^3
  // product) take 4 waves whatever the split, and CPUs never split for waves.
  DeviceInfo h200 = gpu(48 << 10, 1024, 32, 132);
  const clnn::MatmulPlan big{true, 128, 128, 16, 8, 8, clnn::MatmulKernel::vec4};
  const LaunchPlanner nvidia(h200);
  REQUIRE(nvidia.split_k_blocks_per_unit(big) == 2);
  const std::size_t slices = nvidia.gemm_k_slices(big, 300, 3072);
  CHECK(slices > 1);
  CHECK(3072 / slices >= LaunchPlanner::kMinWaveSliceRows);
  CHECK(nvidia.gemm_k_slices(big, 1024, 4096) == 1);
  CHECK(nvidia.gemm_k_slices(big, 300, 768) == 1);  // too few rows for two slices
  CHECK(LaunchPlanner(cpu()).gemm_k_slices(big, 5, 3072) == 1);
}

TEST_CASE("skinny-product plans follow the device and the shape", "[launch]") {
  using clnn::GemvLayout;
  using clnn::GemvPlan;
  using clnn::GemvShape;
  const LaunchPlanner h200(gpu(48 << 10, 1024, 32, 132));
  auto plan = [](const LaunchPlanner& p, GemvLayout layout, std::size_t long_side, std::size_t k,
                 std::size_t skinny = 1, std::size_t batch = 1) {
    const GemvPlan g = p.gemv(GemvShape{layout, long_side, k, skinny, batch});
    INFO(g.describe());
    CHECK(p.fits(g));
    CHECK(g.slice_k % 4 == 0);
    CHECK(g.slices * g.slice_k >= k);                                 // the slices cover K
    CHECK((g.slices - 1) * g.slice_k < std::max<std::size_t>(k, 1));  // and none is empty
    return g;
  };
  // Batch-1 fully connected, 25088 -> 4096: a whole work-group per row, enough rows to fill the
  // device, no slices; no work-item walks more than kMaxItemK of its row.
  const GemvPlan fc6 = plan(h200, GemvLayout::rows, 4096, 25088);
  CHECK(fc6.team == fc6.local_size);
  CHECK(fc6.local_size == 256);
  CHECK(fc6.slices == 1);
  CHECK(25088 / fc6.team <= LaunchPlanner::kMaxItemK);
  // Short rows share a work-group between teams.
  const GemvPlan short_rows = plan(h200, GemvLayout::rows, 1000, 127);
  CHECK(short_rows.team < short_rows.local_size);
  CHECK(short_rows.team >= 2);
  CHECK(plan(h200, GemvLayout::rows, 1000, 3).team == 1);
  // Few rows over a long K: slices fill the device, each a few float4s per work-item at least.
  const GemvPlan few = plan(h200, GemvLayout::rows, 16, 25088);
  CHECK(few.slices > 1);
  CHECK(few.slice_k >= 16 * few.team);
  CHECK(few.groups(16) * few.slices <= 132 * 2048 / few.local_size);
  // Columns: work-items along the long side; K sliced where few outputs leave units idle, and
  // always where a work-item would walk too far.
  const GemvPlan cols = plan(h200, GemvLayout::columns, 4096, 4096);
  CHECK(cols.team == 1);
  CHECK(cols.local_size % 32 == 0);
  CHECK(cols.slices > 1);
  CHECK(cols.groups(4096) * cols.slices >= 132);
  CHECK(plan(h200, GemvLayout::columns, 3, 1000000).slice_k <= LaunchPlanner::kMaxItemK);
  // A large batch fills the device alone.
  CHECK(plan(h200, GemvLayout::columns, 4096, 4096, 1, 512).slices == 1);
  // More vectors need longer slices for their partial sums to stay cheap, unless the cache holds
  // the matrix: then each work-item's wait on its loads, row after row, costs more than they.
  CHECK(plan(h200, GemvLayout::columns, 1024, 65536, 16).slice_k >= 16 * 16);
  DeviceInfo cached = gpu(48 << 10, 1024, 32, 132);
  cached.global_mem_cache_size = 4u << 20;  // about what NVIDIA's driver reports on the H100
  const LaunchPlanner l2(cached);
  const GemvPlan fc2 = plan(l2, GemvLayout::columns, 256, 512, 10);  // 0.5 MB
  CHECK(fc2.slice_k == LaunchPlanner::kMinGpuGemvSlice);
  CHECK(plan(h200, GemvLayout::columns, 256, 512, 10).slice_k >= 16 * 10);
  CHECK(plan(l2, GemvLayout::columns, 1024, 65536, 16).slice_k >= 16 * 16);  // 256 MB
  // Without slices: one launch however long K is.
  CHECK(h200.gemv(GemvShape{GemvLayout::columns, 3, 1000000, 1, 1}, false).slices == 1);
  // The rows' tree keeps to half of local memory, and the work-group limit holds.
  const LaunchPlanner small(gpu(2 << 10, 64, 32, 8));
  const GemvPlan tight = plan(small, GemvLayout::rows, 4096, 25088, 16);
  CHECK(tight.local_mem_bytes() <= (1u << 10));
  CHECK(tight.local_size <= 64);
  // GPUs keep every vector in registers at once, four outputs per work-item of columns.
  CHECK(plan(h200, GemvLayout::rows, 4096, 4096, 16).pass == 16);
  CHECK(plan(h200, GemvLayout::columns, 4096, 4096, 16).pass == 16);
  CHECK(cols.width == 1);
  // A CPU: a work-item streams 8 rows side by side (fewer with more vectors a pass), or a run of
  // 32 outputs of each row, with at most 8 vectors' accumulators at a time; a few work-groups
  // per core are enough for rows.
  const LaunchPlanner host(cpu());
  const GemvPlan host_rows = plan(host, GemvLayout::rows, 4096, 4096);
  CHECK(host_rows.team == 1);
  CHECK(host_rows.width == 8);
  CHECK(host.fits(host_rows));
  CHECK(plan(host, GemvLayout::rows, 4096, 4096, 2).width == 4);
  CHECK(plan(host, GemvLayout::rows, 4096, 4096, 16).width == 1);
  CHECK(host_rows.slices == 1);
  CHECK(plan(host, GemvLayout::rows, 4096, 25088).slice_k <= LaunchPlanner::kMaxItemK);
  const GemvPlan host_cols = plan(host, GemvLayout::columns, 4096, 4096);
  CHECK(4 * host_cols.width == 32);
  CHECK(host_cols.slice_k <= 1024);  // a slice's rows keep their pages in the TLB
  CHECK(host.max_walk(host_cols) == 1024);
  CHECK(h200.max_walk(cols) == LaunchPlanner::kMaxItemK);
  const GemvPlan host_sixteen = plan(host, GemvLayout::columns, 4096, 4096, 16);
  CHECK(host_sixteen.pass == 8);
  CHECK(host_sixteen.width == 1);
  CHECK(plan(host, GemvLayout::rows, 4096, 4096, 3).pass == 3);
  // What fits refuses.
  GemvPlan bad = fc6;
  bad.team = 3;
  CHECK_FALSE(h200.fits(bad));
  bad = fc6;
  bad.skinny = 17;
  CHECK_FALSE(h200.fits(bad));
  bad = fc6;
  bad.local_size = 2048;
  CHECK_FALSE(h200.fits(bad));
  bad = fc6;
  bad.slice_k = 6;
  CHECK_FALSE(h200.fits(bad));
  bad = fc6;
  bad.pass = 2;  // more than its one vector
  CHECK_FALSE(h200.fits(bad));
  bad = fc6;
  bad.width = 2;  // several rows per work-item only in teams of 1
  CHECK_FALSE(h200.fits(bad));
}

namespace {

// An H200 as its tensor-core kernels see it: 48 KiB of local memory, warps of 32, 132 units,
// compute capability 9.0.
DeviceInfo h200_like() {
  DeviceInfo h200 = gpu(48 << 10, 1024, 32, 132);
  h200.registers_per_group = 65536;
  h200.nv_compute_capability = 90;
  return h200;
}

}  // namespace

TEST_CASE("tensor-core plans: whole warp pieces, only where the device runs the precision",
          "[launch]") {
  using clnn::MatmulKernel;
  using clnn::Precision;
  const DeviceInfo h200 = h200_like();
  const LaunchPlanner planner(h200);
  struct Form {
    Precision precision;
    MatmulKernel kernel;
    std::size_t tile_k;  // steps of 16 wherever local memory holds them
    const char* option;
  };
  for (const Form& form : {Form{Precision::tf32, MatmulKernel::tf32, 16, "-DMMA_TF32=1"},
                           Form{Precision::fp16, MatmulKernel::fp16, 16, "-DMMA16=1"},
                           Form{Precision::bf16, MatmulKernel::bf16, 16, "-DMMA_BF16=1"}}) {
    for (auto [m, n, batch] :
         {std::array<std::size_t, 3>{4096, 4096, 1}, {64, 64, 1}, {8, 8, 1}, {128, 3136, 32}}) {
      INFO(clnn::to_string(form.precision) << " m " << m << " n " << n << " batch " << batch);
      const auto vec4 = planner.matmul(m, n, batch);
      const auto mma = planner.with_tensor_cores(vec4, form.precision);
      REQUIRE(mma);
      CHECK(mma->kernel == form.kernel);
      CHECK(mma->tensor_cores());
      CHECK(planner.fits(*mma));
      CHECK(mma->tile_m % 64 == 0);
      CHECK(mma->tile_n % 32 == 0);
      CHECK(mma->tile_k == form.tile_k);
      CHECK(mma->tile_m >= vec4.tile_m);  // the vec4 blocks where they hold whole pieces
      CHECK(mma->tile_n >= vec4.tile_n);
      CHECK(mma->work_group_size() % 32 == 0);  // whole warps
      CHECK(mma->local_mem_bytes() <= h200.local_mem_size);
      CHECK_THAT(mma->build_options(), Catch::Contains(form.option));
      CHECK(mma->source_name() == "matmul_vec4");
    }
    CHECK_FALSE(planner.with_tensor_cores(planner.matmul(), Precision::fp32));
    // Pieces 64 wide (8 x 16 a work-item) where the block holds them; a block smaller than a
    // warp's piece is refused, and so is a step shorter than the precision's mma.
    CHECK(planner.fits({true, 128, 128, 16, 8, 16, form.kernel}));
    CHECK_FALSE(planner.fits({true, 128, 96, 16, 8, 16, form.kernel}));
    CHECK_FALSE(planner.fits({true, 32, 32, 8, 8, 8, form.kernel}));
    CHECK_FALSE(planner.fits({true, 64, 32, 4, 8, 8, form.kernel}));
    CHECK(planner.fits({true, 64, 32, 8, 8, 8, form.kernel}) ==
          (form.kernel == MatmulKernel::tf32));
    // No tensor cores before compute capability 8.0, off NVIDIA, or on other SIMD widths.
    DeviceInfo turing = h200;
    turing.nv_compute_capability = 75;
    DeviceInfo amd = gpu(64 << 10, 256, 64, 60);
    for (const DeviceInfo& d : {turing, amd, cpu()}) {
      const LaunchPlanner other(d);
      CHECK_FALSE(other.with_tensor_cores(other.matmul(), form.precision));
      CHECK_FALSE(other.fits({true, 128, 128, 32, 8, 8, form.kernel}));
    }
  }
  // The 16-bit forms stage twice the K in the same local memory.
  CHECK(clnn::MatmulPlan{true, 128, 128, 32, 8, 8, MatmulKernel::fp16}.local_mem_bytes() ==
        clnn::MatmulPlan{true, 128, 128, 16, 8, 8, MatmulKernel::tf32}.local_mem_bytes());
}

TEST_CASE("pipelined TF32 plans: stages of whole chunks within local memory", "[launch]") {
  using clnn::MatmulKernel;
  using clnn::MatmulPlan;
  using clnn::Precision;
  const DeviceInfo h200 = h200_like();
  const LaunchPlanner planner(h200);
  const auto plan = planner.pipelined(Precision::tf32);
  REQUIRE(plan);
  CHECK(plan->stages >= 2);
  CHECK(planner.fits(*plan));
  CHECK(plan->source_name() == "matmul_mma");
  CHECK(plan->kernel_name() == "gemm_mma");
  CHECK_THAT(plan->build_options(), Catch::Contains("-DSTAGES=" + std::to_string(plan->stages)));
  CHECK_THAT(plan->describe(), Catch::Contains("stages"));
  // Each stage holds an A and a B tile in fp32, unpadded.
  CHECK(plan->local_mem_bytes() ==
        plan->stages * (plan->tile_m + plan->tile_n) * plan->tile_k * sizeof(float));
  for (Precision p : {Precision::fp32, Precision::fp16, Precision::bf16})
    CHECK_FALSE(planner.pipelined(p));
  // Every form that fits, the planner's among them: 2 stages of 8, 16; 3 of 8, 16; 4 of 8; in
  // pieces 32 and 64 wide.
  const auto forms = planner.pipelined_forms();
  CHECK(forms.size() == 10);
  CHECK(std::count_if(forms.begin(), forms.end(), [&](const clnn::MatmulPlan& form) {
          return form.describe() == plan->describe();
        }) == 1);
  for (const MatmulPlan& form : forms) CHECK(planner.fits(form));
  // 3 stages of 128 x 128 x 16 fill the 48 KiB; 4 do not fit, nor 2 of 32.
  CHECK(planner.fits({true, 128, 128, 16, 8, 16, MatmulKernel::tf32, 3}));
  CHECK_FALSE(planner.fits({true, 128, 128, 16, 8, 16, MatmulKernel::tf32, 4}));
  CHECK_FALSE(planner.fits({true, 128, 128, 32, 8, 16, MatmulKernel::tf32, 2}));
  CHECK(planner.fits({true, 128, 128, 8, 8, 16, MatmulKernel::tf32, 4}));
  // 2 to 4 stages; steps of a power of two up to 32; the tensor-core kernels' pieces; TF32 only.
  CHECK_FALSE(planner.fits({true, 128, 128, 8, 8, 8, MatmulKernel::tf32, 1}));
  CHECK_FALSE(planner.fits({true, 64, 64, 8, 8, 8, MatmulKernel::tf32, 5}));
  CHECK_FALSE(planner.fits({true, 128, 128, 24, 8, 8, MatmulKernel::tf32, 2}));
  CHECK_FALSE(planner.fits({true, 128, 96, 8, 8, 16, MatmulKernel::tf32, 2}));
  CHECK_FALSE(planner.fits({true, 128, 128, 16, 8, 8, MatmulKernel::fp16, 2}));
  CHECK_FALSE(planner.fits({true, 128, 128, 16, 8, 8, MatmulKernel::vec4, 2}));
  // Where the device has no TF32 tensor cores, none.
  DeviceInfo turing = h200;
  turing.nv_compute_capability = 75;
  for (const DeviceInfo& d : {turing, cpu()}) {
    const LaunchPlanner other(d);
    CHECK_FALSE(other.pipelined(Precision::tf32));
    CHECK(other.pipelined_forms().empty());
    CHECK_FALSE(other.fits({true, 128, 128, 8, 8, 8, MatmulKernel::tf32, 2}));
  }
}
