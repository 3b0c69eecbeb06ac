// The S6 selective scan as one fused CPU kernel: the CPU analogue of Mamba's `selective_scan`
// CUDA kernel. Plain C++ with a C interface (no torch headers, so it builds in about a second),
// compiled on first use and called through ctypes by fused_scan.py on tensors' memory.
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

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
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
  int threads;
};

// f(begin, end) over [0, tasks) split into `threads` contiguous ranges, one std::thread each.
template <typename F>
void parallel_for(int64_t tasks, int threads, const F& f) {
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(threads, tasks));
  std::vector<std::thread> pool;
  for (int64_t p = 1; p < parts; ++p) pool.emplace_back(f, p * tasks / parts, (p + 1) * tasks / parts);
  f(0, tasks / parts);
  for (auto& t : pool) t.join();
}

template <typename T>
void forward_impl(const Dims& s, const T* u, const T* delta, const T* A, const T* B, const T* C, const T* D,
                  const T* bias, bool use_softplus, T* y) {
  parallel_for(s.batch * s.d, s.threads, [&](int64_t begin, int64_t end) {
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
  parallel_for(s.batch * s.groups, s.threads, [&](int64_t begin, int64_t end) {
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

}  // namespace

// The C interface (ctypes): contiguous arrays of one dtype; dA (batch, D, N), dD and dbias
// (batch, D) are per batch element, summed by the caller.
#define SCAN_API(T, SUFFIX)                                                                                     \
  extern "C" void scan_forward_##SUFFIX(const T* u, const T* delta, const T* A, const T* B, const T* C,          \
                                        const T* D, const T* bias, int use_softplus, int64_t batch, int64_t d,   \
                                        int64_t length, int64_t n, int64_t groups, int threads, T* y) {          \
    forward_impl<T>({batch, d, length, n, groups, d / groups, threads}, u, delta, A, B, C, D, bias,              \
                    use_softplus != 0, y);                                                                       \
  }                                                                                                              \
  extern "C" void scan_backward_##SUFFIX(const T* u, const T* delta, const T* A, const T* B, const T* C,         \
                                         const T* D, const T* bias, int use_softplus, int64_t batch, int64_t d,  \
                                         int64_t length, int64_t n, int64_t groups, int threads, const T* gy,    \
                                         T* du, T* ddelta, T* dA, T* dB, T* dC, T* dD, T* dbias) {               \
    backward_impl<T>({batch, d, length, n, groups, d / groups, threads}, u, delta, A, B, C, D, bias,             \
                     use_softplus != 0, gy, du, ddelta, dA, dB, dC, dD, dbias);                                  \
  }

SCAN_API(float, f32)
SCAN_API(double, f64)
