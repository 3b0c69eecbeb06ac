// The S6 selective scan as one fused CPU kernel: the CPU analogue of Mamba's `selective_scan`
// CUDA kernel. Compiled on first use by fused_scan.py (torch.utils.cpp_extension.load_inline).
//
// Shapes (contiguous): u, delta, y (batch, D, L); A (D, N); B, C (batch, K, N, L), shared by the
// D / K channels of a route; D_skip, bias (D,).
//
//   dt_t = softplus(delta_t + bias)     a_t = exp(dt_t A)     h_t = a_t h_{t-1} + dt_t u_t B_t
//   y_t  = sum_n C_t h_t + D_skip u_t
//
// Forward: one task per (batch, channel), a loop over L holding the N-dimensional state in
// registers, in blocks of BLOCK positions whose softplus / exp are computed first (independent
// of the state, so the compiler vectorises them) and whose recurrence is then one multiply-add
// per step. Nothing is saved: the backward pass recomputes the states, as the official kernel does.
//
// Backward: one task per (batch, route), looping over the route's channels so the gradients of
// the shared B and C are summed without races. Per channel it recomputes dt_t, a_t and h_t (kept
// for the whole sequence: N L values), then runs the adjoint scan in reverse:
//
//   g_t = C_t gy_t + a_{t+1} g_{t+1}
//   dL/du_t  = sum_n g_t dt_t B_t + D_skip gy_t     dL/dB_t += g_t dt_t u_t      dL/dC_t += gy_t h_t
//   dL/ddt_t = sum_n g_t (u_t B_t + A a_t h_{t-1})  dL/dA   += g_t a_t h_{t-1} dt_t
//   dL/ddelta_t = dL/ddt_t sigmoid(delta_t + bias)  (softplus')
//
// The per-channel parameter gradients (A, D_skip, bias) are written per batch element and summed
// over the batch by the caller.

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

constexpr int64_t BLOCK = 64;

template <typename T>
inline T softplus(T x) {
  return x > T(20) ? x : std::log1p(std::exp(x));
}

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

struct Dims {
  int64_t batch, d, length, n, groups, per;
};

Dims dims_of(const torch::Tensor& u, const torch::Tensor& A, const torch::Tensor& B) {
  const int64_t batch = u.size(0), d = u.size(1), length = u.size(2), n = A.size(1), groups = B.size(1);
  return {batch, d, length, n, groups, d / groups};
}

template <typename T>
void forward_impl(const Dims& s, const T* u, const T* delta, const T* A, const T* B, const T* C, const T* D,
                  const T* bias, bool use_softplus, T* y) {
  at::parallel_for(0, s.batch * s.d, 1, [&](int64_t begin, int64_t end) {
    T dt[BLOCK], x[BLOCK], a[BLOCK], acc[BLOCK];
    std::vector<T> h(s.n);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / s.d, c = task % s.d, g = c / s.per;
      const T* uc = u + task * s.length;
      const T* dc = delta + task * s.length;
      const T* Bg = B + (b * s.groups + g) * s.n * s.length;
      const T* Cg = C + (b * s.groups + g) * s.n * s.length;
      const T* Ac = A + c * s.n;
      const T bc = bias[c], Dc = D[c];
      T* yc = y + task * s.length;
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t t0 = 0; t0 < s.length; t0 += BLOCK) {
        const int64_t len = std::min(BLOCK, s.length - t0);
        for (int64_t t = 0; t < len; ++t) {
          const T v = use_softplus ? softplus(dc[t0 + t] + bc) : dc[t0 + t] + bc;
          dt[t] = v;
          x[t] = v * uc[t0 + t];
          acc[t] = Dc * uc[t0 + t];
        }
        for (int64_t k = 0; k < s.n; ++k) {
          const T Ak = Ac[k];
          const T* Bk = Bg + k * s.length + t0;
          const T* Ck = Cg + k * s.length + t0;
          for (int64_t t = 0; t < len; ++t) a[t] = std::exp(dt[t] * Ak);
          T hk = h[k];
          for (int64_t t = 0; t < len; ++t) {
            hk = a[t] * hk + x[t] * Bk[t];
            acc[t] += Ck[t] * hk;
          }
          h[k] = hk;
        }
        std::copy(acc, acc + len, yc + t0);
      }
    }
  });
}

template <typename T>
void backward_impl(const Dims& s, const T* u, const T* delta, const T* A, const T* B, const T* C, const T* D,
                   const T* bias, bool use_softplus, const T* gy, T* du, T* ddelta, T* dA, T* dB, T* dC, T* dD,
                   T* dbias) {
  at::parallel_for(0, s.batch * s.groups, 1, [&](int64_t begin, int64_t end) {
    const int64_t L = s.length;
    std::vector<T> dt(L), hs(s.n * L), as(s.n * L), ddt(L);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / s.groups, g = task % s.groups;
      const T* Bg = B + task * s.n * L;
      const T* Cg = C + task * s.n * L;
      T* dBg = dB + task * s.n * L;
      T* dCg = dC + task * s.n * L;
      std::fill(dBg, dBg + s.n * L, T(0));
      std::fill(dCg, dCg + s.n * L, T(0));
      for (int64_t c = g * s.per; c < (g + 1) * s.per; ++c) {
        const int64_t row = b * s.d + c;
        const T* uc = u + row * L;
        const T* dc = delta + row * L;
        const T* gyc = gy + row * L;
        const T* Ac = A + c * s.n;
        T* duc = du + row * L;
        T* ddc = ddelta + row * L;
        const T bc = bias[c], Dc = D[c];
        // recompute dt, a and h for the whole sequence
        for (int64_t t = 0; t < L; ++t) dt[t] = use_softplus ? softplus(dc[t] + bc) : dc[t] + bc;
        for (int64_t k = 0; k < s.n; ++k) {
          const T Ak = Ac[k];
          const T* Bk = Bg + k * L;
          T* ak = as.data() + k * L;
          T* hk = hs.data() + k * L;
          for (int64_t t = 0; t < L; ++t) ak[t] = std::exp(dt[t] * Ak);
          T h = 0;
          for (int64_t t = 0; t < L; ++t) {
            h = ak[t] * h + dt[t] * uc[t] * Bk[t];
            hk[t] = h;
          }
        }
        // the adjoint scan, one state dimension at a time
        T dDc = 0;
        for (int64_t t = 0; t < L; ++t) {
          duc[t] = Dc * gyc[t];
          ddt[t] = 0;
          dDc += gyc[t] * uc[t];
        }
        for (int64_t k = 0; k < s.n; ++k) {
          const T Ak = Ac[k];
          const T* Bk = Bg + k * L;
          const T* Ck = Cg + k * L;
          const T* ak = as.data() + k * L;
          const T* hk = hs.data() + k * L;
          T* dBk = dBg + k * L;
          T* dCk = dCg + k * L;
          T carry = 0, dAk = 0;
          for (int64_t t = L - 1; t >= 0; --t) {
            const T gt = Ck[t] * gyc[t] + carry;
            const T hprev = t > 0 ? hk[t - 1] : T(0);
            const T gah = gt * ak[t] * hprev;  // g_t a_t h_{t-1}: dL/da_t times a_t
            dCk[t] += gyc[t] * hk[t];
            dBk[t] += gt * dt[t] * uc[t];
            duc[t] += gt * dt[t] * Bk[t];
            ddt[t] += gt * uc[t] * Bk[t] + Ak * gah;
            dAk += gah * dt[t];
            carry = ak[t] * gt;
          }
          dA[row * s.n + k] = dAk;
        }
        T dbc = 0;
        for (int64_t t = 0; t < L; ++t) {
          const T v = use_softplus ? ddt[t] * sigmoid(dc[t] + bc) : ddt[t];
          ddc[t] = v;
          dbc += v;
        }
        dD[row] = dDc;
        dbias[row] = dbc;
      }
    }
  });
}

void check(const torch::Tensor& u, const torch::Tensor& delta, const torch::Tensor& A, const torch::Tensor& B,
           const torch::Tensor& C, const torch::Tensor& D, const torch::Tensor& bias) {
  for (const auto* t : {&u, &delta, &A, &B, &C, &D, &bias}) {
    TORCH_CHECK(t->is_contiguous() && t->device().is_cpu() && t->scalar_type() == u.scalar_type(),
                "fused selective scan: inputs must be contiguous CPU tensors of one dtype");
  }
}

}  // namespace

torch::Tensor scan_forward(torch::Tensor u, torch::Tensor delta, torch::Tensor A, torch::Tensor B, torch::Tensor C,
                           torch::Tensor D, torch::Tensor bias, bool use_softplus) {
  check(u, delta, A, B, C, D, bias);
  const Dims s = dims_of(u, A, B);
  auto y = torch::empty_like(u);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "scan_forward", [&] {
    forward_impl<scalar_t>(s, u.data_ptr<scalar_t>(), delta.data_ptr<scalar_t>(), A.data_ptr<scalar_t>(),
                           B.data_ptr<scalar_t>(), C.data_ptr<scalar_t>(), D.data_ptr<scalar_t>(),
                           bias.data_ptr<scalar_t>(), use_softplus, y.data_ptr<scalar_t>());
  });
  return y;
}

std::vector<torch::Tensor> scan_backward(torch::Tensor u, torch::Tensor delta, torch::Tensor A, torch::Tensor B,
                                         torch::Tensor C, torch::Tensor D, torch::Tensor bias, bool use_softplus,
                                         torch::Tensor gy) {
  check(u, delta, A, B, C, D, bias);
  TORCH_CHECK(gy.is_contiguous() && gy.sizes() == u.sizes() && gy.scalar_type() == u.scalar_type(),
              "fused selective scan: the output gradient must match u");
  const Dims s = dims_of(u, A, B);
  auto du = torch::empty_like(u), ddelta = torch::empty_like(u);
  auto dB = torch::empty_like(B), dC = torch::empty_like(C);
  auto dA = torch::empty({s.batch, s.d, s.n}, u.options());
  auto dD = torch::empty({s.batch, s.d}, u.options()), dbias = torch::empty({s.batch, s.d}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "scan_backward", [&] {
    backward_impl<scalar_t>(s, u.data_ptr<scalar_t>(), delta.data_ptr<scalar_t>(), A.data_ptr<scalar_t>(),
                            B.data_ptr<scalar_t>(), C.data_ptr<scalar_t>(), D.data_ptr<scalar_t>(),
                            bias.data_ptr<scalar_t>(), use_softplus, gy.data_ptr<scalar_t>(),
                            du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(), dA.data_ptr<scalar_t>(),
                            dB.data_ptr<scalar_t>(), dC.data_ptr<scalar_t>(), dD.data_ptr<scalar_t>(),
                            dbias.data_ptr<scalar_t>());
  });
  return {du, ddelta, dA.sum(0), dB, dC, dD.sum(0), dbias.sum(0)};
}
