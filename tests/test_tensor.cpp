// Tensors and the elementwise kernel family: round trips, fill/copy/axpy against the reference,
// allocation limits and bad sizes.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "cl/kernel_call.hpp"
#include "context_impl.hpp"
#include "reference/elementwise.hpp"
#include "support.hpp"

using clnn::Shape;
using clnn::Tensor;
using clnn::test::context;
using clnn::test::random_vector;
using clnn::test::relative_error;

namespace {

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();
constexpr float kCanary = -12345.5f;

}  // namespace

TEST_CASE("tensors round-trip through the device", "[tensor]") {
  for (std::int64_t n : {1, 7, 1000003}) {
    INFO(n);
    auto values = random_vector(static_cast<std::size_t>(n), static_cast<std::uint32_t>(n));
    Tensor t = Tensor::from_host(context(), {n}, values);
    CHECK(t.shape() == Shape{n});
    CHECK(t.size() == n);
    CHECK(t.to_host() == values);
  }
  auto values = random_vector(3 * 5 * 7, 3);
  Tensor t = Tensor::from_host(context(), {3, 5, 7}, values);
  CHECK(t.to_host() == values);
  auto other = random_vector(values.size(), 4);
  t.write(other);
  CHECK(t.to_host() == other);
}

TEST_CASE("fill and copy and axpy match the reference", "[tensor][elementwise]") {
  for (std::int64_t n : {1, 3, 4, 7, 8, 33, 129, 1000, 65537}) {
    INFO(n);
    auto size = static_cast<std::size_t>(n);
    Tensor t = Tensor::from_host(context(), {n}, std::vector<float>(size, kPoison));
    clnn::fill(t, 2.5f);
    CHECK(t.to_host() == std::vector<float>(size, 2.5f));

    auto x = random_vector(size, 11);
    auto y = random_vector(size, 12);
    Tensor tx = Tensor::from_host(context(), {n}, x);
    Tensor ty = Tensor::from_host(context(), {n}, y);
    clnn::axpy(-0.75f, tx, ty);
    CHECK(relative_error(ty.to_host(), clnn::reference::axpy(-0.75, x, y)) < 1e-6);

    Tensor dst = Tensor::from_host(context(), {n}, std::vector<float>(size, kPoison));
    clnn::copy(tx, dst);
    CHECK(dst.to_host() == x);
  }
  Tensor z = Tensor::zeros(context(), {4, 9});
  CHECK(z.to_host() == std::vector<float>(36, 0.0f));
}

TEST_CASE("elementwise kernels write exactly n elements", "[tensor][elementwise]") {
  // Launch on the first n of a longer buffer: the tail is a canary that must survive.
  auto& impl = clnn::detail::Access::impl(context());
  for (std::size_t n : {1ul, 7ul, 129ul, 4099ul}) {
    INFO(n);
    const std::size_t tail = 37;
    std::vector<float> initial(n + tail, kPoison);
    for (std::size_t i = n; i < n + tail; ++i) initial[i] = kCanary;
    Tensor out = Tensor::from_host(context(), {static_cast<std::int64_t>(n + tail)}, initial);
    cl_kernel k = impl.kernel("elementwise", "fill");
    clnn::detail::set_args(k, clnn::detail::Access::mem(out), static_cast<cl_ulong>(n), 1.0f);
    impl.enqueue_elementwise(k, n);
    auto result = out.to_host();
    for (std::size_t i = 0; i < n; ++i) REQUIRE(result[i] == 1.0f);
    for (std::size_t i = n; i < n + tail; ++i) REQUIRE(result[i] == kCanary);
  }
}

TEST_CASE("an allocation over the device limit is a clear error", "[tensor][errors]") {
  const auto& device = context().device();
  auto too_many = static_cast<std::int64_t>(device.max_mem_alloc_size / sizeof(float) + 1);
  CHECK_THROWS_AS(Tensor::empty(context(), {too_many}), clnn::AllocationError);
  CHECK_THROWS_WITH(Tensor::empty(context(), {too_many}),
                    Catch::Contains("max_mem_alloc_size") && Catch::Contains(device.name));
}

TEST_CASE("bad sizes are shape errors and never crash", "[tensor][errors]") {
  CHECK_THROWS_AS(Tensor::empty(context(), {0}), clnn::ShapeError);
  CHECK_THROWS_AS(Tensor::empty(context(), {3, -1}), clnn::ShapeError);
  CHECK_THROWS_WITH(Tensor::empty(context(), {1ll << 40, 1ll << 40}),
                    Catch::Contains("too many elements"));
  // Fits in int64 elements but not in bytes.
  CHECK_THROWS_AS(Tensor::empty(context(), {std::numeric_limits<std::int64_t>::max() / 2 + 1}),
                  clnn::ShapeError);
  CHECK_THROWS_WITH(Tensor::from_host(context(), {2, 3}, std::vector<float>(5)),
                    Catch::Contains("5 values") && Catch::Contains("[2, 3]"));
  Tensor a = Tensor::zeros(context(), {4});
  Tensor b = Tensor::zeros(context(), {5});
  CHECK_THROWS_AS(a.write(std::vector<float>(3)), clnn::ShapeError);
  CHECK_THROWS_AS(clnn::copy(a, b), clnn::ShapeError);
  CHECK_THROWS_AS(clnn::axpy(1.0f, a, b), clnn::ShapeError);
  Tensor undefined;
  CHECK_FALSE(undefined.defined());
  CHECK(undefined.size() == 0);
  CHECK_THROWS_AS(undefined.to_host(), clnn::Error);
  CHECK_THROWS_AS(clnn::fill(undefined, 1.0f), clnn::Error);
}
