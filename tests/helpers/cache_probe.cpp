// clnn-cache-probe: builds the embedded elementwise program on the default device, as a separate
// process would, and prints where it came from: "disk N source M". Used by test_program_cache.
#include <cstdio>

#include "context_impl.hpp"

int main() {
  try {
    clnn::Context ctx = clnn::Context::create();
    auto& impl = clnn::detail::Access::impl(ctx);
    impl.programs->get(clnn::detail::embedded_kernel_source("elementwise"), "-DCLNN_PROBE=1");
    const auto& stats = impl.programs->stats();
    std::printf("disk %zu source %zu\n", stats.disk_loads, stats.source_builds);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-cache-probe: %s\n", e.what());
    return 1;
  }
}
