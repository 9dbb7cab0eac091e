/* Fused CPU kernels of eegsnn (see eegsnn/kernels/__init__.py for what and why).
 *
 * Plain C99 + OpenMP, called through ctypes by eegsnn.kernels._native with pointers to
 * C-contiguous NumPy arrays; no Python API (and no Python headers) involved. Built by setup.py
 * as an optional extension (no compiler: eegsnn falls back to the MLX training step). Every
 * loop keeps a fixed summation order per output element and parallelises over independent
 * outputs only, so results are bit-identical whatever the number of threads; build flags
 * forbid FMA contraction, so they also round the same way on every machine.
 *
 * Shapes (row-major): threshold [B, F] uint32 (spike probability * 65536), weight [F, H],
 * current/grad [T, B, H], membrane/spikes [T, N]; sparse input: x [R, F] (R = T * B rows) as
 * compressed rows (row_ptr [R + 1] int64, col [nnz] int32 ascending per row, val [nnz]).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define HALF 32768u
#define ALWAYS 65536u
#define BLOCK 256

typedef int64_t idx_t;

/* Hot inner loops are compiled three times on x86-64 Linux (AVX-512F, AVX2 and baseline
 * SSE2), picked at load time for the CPU at hand (GCC/Clang function multi-versioning);
 * elsewhere once. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTOR_CLONES
#endif

VECTOR_CLONES static void add_row(float *restrict acc, const float *restrict w, idx_t n) {
    for (idx_t h = 0; h < n; ++h) acc[h] += w[h];
}

VECTOR_CLONES static void sub_row(float *restrict acc, const float *restrict w, idx_t n) {
    for (idx_t h = 0; h < n; ++h) acc[h] -= w[h];
}

/* Low 16 bits of SplitMix64's output number `counter` of stream `key`. */
static inline uint32_t uniform16(uint64_t key, uint64_t counter) {
    uint64_t z = key + counter * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z = z ^ (z >> 31);
    return (uint32_t)(z & 0xFFFFULL);
}

/* Bumped whenever a function's signature changes; eegsnn.kernels._native refuses a library
 * built from another version (an editable install not rebuilt after a pull). */
int eegsnn_abi_version(void) { return 3; }

int eegsnn_get_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void eegsnn_set_threads(int num_threads) {
#ifdef _OPENMP
    if (num_threads > 0) omp_set_num_threads(num_threads);
#else
    (void)num_threads;
#endif
}

/* Per sample: inputs with 0 < q <= HALF (low) and q > HALF (high), ascending. */
void eegsnn_plan(const uint32_t *threshold, idx_t num_samples, idx_t num_inputs,
                 int32_t *low_count, int32_t *low_index, int32_t *high_count,
                 int32_t *high_index) {
    for (idx_t b = 0; b < num_samples; ++b) {
        const uint32_t *q = threshold + b * num_inputs;
        int32_t lo = 0, hi = 0;
        for (idx_t i = 0; i < num_inputs; ++i) {
            if (q[i] == 0) continue;
            if (q[i] > HALF) high_index[b * num_inputs + hi++] = (int32_t)i;
            else low_index[b * num_inputs + lo++] = (int32_t)i;
        }
        low_count[b] = lo;
        high_count[b] = hi;
    }
}

void eegsnn_rate_spikes(const uint32_t *threshold, idx_t num_samples, idx_t num_inputs,
                        uint64_t key, idx_t num_steps, uint8_t *out) {
#pragma omp parallel for schedule(static)
    for (idx_t t = 0; t < num_steps; ++t) {
        for (idx_t b = 0; b < num_samples; ++b) {
            const uint64_t row = (uint64_t)(t * num_samples + b) * (uint64_t)num_inputs;
            const uint32_t *q = threshold + b * num_inputs;
            uint8_t *o = out + (t * num_samples + b) * num_inputs;
            for (idx_t i = 0; i < num_inputs; ++i)
                o[i] = (q[i] > 0 && uniform16(key, row + (uint64_t)i) < q[i]) ? 1 : 0;
        }
    }
}

/* out[t, b] = bias + sum_i S[t, b, i] weight[i] (complement trick for q > HALF). */
int eegsnn_project_forward(const uint32_t *threshold, idx_t num_samples, idx_t num_inputs,
                           const int32_t *low_count, const int32_t *low_index,
                           const int32_t *high_count, const int32_t *high_index,
                           uint64_t key, idx_t num_steps, const float *weight, idx_t hidden,
                           const float *bias, float *out) {
    int failed = 0;
#pragma omp parallel for schedule(static) reduction(| : failed)
    for (idx_t b = 0; b < num_samples; ++b) {
        float *base = (float *)malloc((size_t)hidden * sizeof(float));
        if (base == NULL) { failed = 1; continue; }
        const uint32_t *q = threshold + b * num_inputs;
        const int32_t *low = low_index + b * num_inputs;
        const int32_t *high = high_index + b * num_inputs;
        memcpy(base, bias, (size_t)hidden * sizeof(float));
        for (int32_t j = 0; j < high_count[b]; ++j)
            add_row(base, weight + (idx_t)high[j] * hidden, hidden);
        for (idx_t t = 0; t < num_steps; ++t) {
            const uint64_t row = (uint64_t)(t * num_samples + b) * (uint64_t)num_inputs;
            float *acc = out + (t * num_samples + b) * hidden;
            memcpy(acc, base, (size_t)hidden * sizeof(float));
            for (int32_t j = 0; j < low_count[b]; ++j) {
                const idx_t i = low[j];
                if (uniform16(key, row + (uint64_t)i) < q[i]) add_row(acc, weight + i * hidden, hidden);
            }
            for (int32_t j = 0; j < high_count[b]; ++j) {
                const idx_t i = high[j];
                if (q[i] < ALWAYS && uniform16(key, row + (uint64_t)i) >= q[i])
                    sub_row(acc, weight + i * hidden, hidden);
            }
        }
        free(base);
    }
    return failed;
}

/* out[i] = sum_{t, b} S[t, b, i] grad[t, b]; one thread owns each input row. */
void eegsnn_project_weight_grad(const uint32_t *threshold, idx_t num_samples,
                                idx_t num_inputs, uint64_t key, idx_t num_steps,
                                const float *grad, const float *grad_time_sum, idx_t hidden,
                                float *out) {
#pragma omp parallel for schedule(static)
    for (idx_t i = 0; i < num_inputs; ++i) {
        float *acc = out + i * hidden;
        for (idx_t h = 0; h < hidden; ++h) acc[h] = 0.0f;
        for (idx_t b = 0; b < num_samples; ++b) { /* ascending: a fixed summation order */
            const uint32_t q = threshold[b * num_inputs + i];
            if (q == 0) continue;
            if (q > HALF) {
                add_row(acc, grad_time_sum + b * hidden, hidden);
                if (q >= ALWAYS) continue;
                for (idx_t t = 0; t < num_steps; ++t) {
                    const uint64_t c = (uint64_t)(t * num_samples + b) * (uint64_t)num_inputs
                                       + (uint64_t)i;
                    if (uniform16(key, c) >= q) sub_row(acc, grad + (t * num_samples + b) * hidden, hidden);
                }
            } else {
                for (idx_t t = 0; t < num_steps; ++t) {
                    const uint64_t c = (uint64_t)(t * num_samples + b) * (uint64_t)num_inputs
                                       + (uint64_t)i;
                    if (uniform16(key, c) < q) add_row(acc, grad + (t * num_samples + b) * hidden, hidden);
                }
            }
        }
    }
}

/* ---- event-driven projection of sparse (spike) input: compressed rows ---------------- */

VECTOR_CLONES static void axpy_row(float *restrict acc, float a, const float *restrict w,
                                   idx_t n) {
    for (idx_t h = 0; h < n; ++h) acc[h] += a * w[h];
}

/* row_ptr[r + 1] - row_ptr[r] = nonzeros of row r of x [R, F] (float32 or, with `packed`,
 * numpy.packbits bytes [R, ceil(F / 8)], big bit order); returns nnz. */
static idx_t count_row(const float *xf, const uint8_t *xp, idx_t r, idx_t cols) {
    idx_t n = 0;
    if (xp != NULL) {
        const idx_t bytes = (cols + 7) / 8;
        const uint8_t *row = xp + r * bytes;
        for (idx_t k = 0; k < bytes; ++k) n += __builtin_popcount((unsigned)row[k]);
        if (cols % 8) n -= __builtin_popcount((unsigned)(row[bytes - 1] & (0xFFu >> (cols % 8))));
    } else {
        const float *row = xf + r * cols;
        for (idx_t i = 0; i < cols; ++i) n += row[i] != 0.0f;
    }
    return n;
}

int64_t eegsnn_sparse_rows(const float *x, const uint8_t *packed, idx_t rows, idx_t cols,
                           int64_t *row_ptr) {
#pragma omp parallel for schedule(static)
    for (idx_t r = 0; r < rows; ++r) row_ptr[r + 1] = count_row(x, packed, r, cols);
    row_ptr[0] = 0;
    for (idx_t r = 0; r < rows; ++r) row_ptr[r + 1] += row_ptr[r];
    return row_ptr[rows];
}

int eegsnn_sparse_fill(const float *x, const uint8_t *packed, idx_t rows, idx_t cols,
                       const int64_t *row_ptr, int32_t *col, float *val) {
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        /* branch-free listing into a per-thread buffer (a store per input, the index
         * advancing only on a nonzero), then a copy of the row's entries */
        int32_t *buf = packed == NULL ? (int32_t *)malloc((size_t)(cols + 1) * sizeof(int32_t))
                                      : NULL;
        if (packed == NULL && buf == NULL) failed = 1;
#pragma omp for schedule(static)
        for (idx_t r = 0; r < rows; ++r) {
            int64_t j = row_ptr[r];
            if (packed != NULL) {
                const uint8_t *row = packed + r * ((cols + 7) / 8);
                for (idx_t k = 0; k < (cols + 7) / 8; ++k) {
                    /* visit only the set bits, highest (= lowest column) first */
                    unsigned bits = row[k];
                    while (bits != 0) {
                        const int b = __builtin_clz(bits) - (int)(8 * sizeof(unsigned) - 8);
                        const idx_t i = 8 * k + b;
                        bits &= ~(0x80u >> b);
                        if (i >= cols) break; /* padding bits of the last byte */
                        col[j] = (int32_t)i;
                        val[j++] = 1.0f;
                    }
                }
            } else if (buf != NULL) {
                const float *row = x + r * cols;
                idx_t n = 0;
                for (idx_t i = 0; i < cols; ++i) { buf[n] = (int32_t)i; n += row[i] != 0.0f; }
                for (idx_t k = 0; k < n; ++k) { col[j + k] = buf[k]; val[j + k] = row[buf[k]]; }
            }
        }
        free(buf);
    }
    return failed; /* 1: out of memory (lists incomplete) */
}

/* out[r] = bias + sum_j val[j] weight[col[j]] over row r's nonzeros, ascending (a value of
 * exactly 1, a spike, adds the row without a multiply: the same float result). */
void eegsnn_sparse_forward(const int64_t *row_ptr, const int32_t *col, const float *val,
                           idx_t rows, const float *weight, idx_t hidden, const float *bias,
                           float *out) {
#pragma omp parallel for schedule(static)
    for (idx_t r = 0; r < rows; ++r) {
        float *acc = out + r * hidden;
        memcpy(acc, bias, (size_t)hidden * sizeof(float));
        for (int64_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
            const float *w = weight + (idx_t)col[j] * hidden;
            if (val[j] == 1.0f) add_row(acc, w, hidden);
            else axpy_row(acc, val[j], w, hidden);
        }
    }
}

/* out[i] = sum_r x[r, i] grad[r] (weight gradient [F, H]): scatter-add of each row's
 * gradient into the rows of its active inputs. The rows are cut into a fixed number of
 * chunks (from the sizes only, never the thread count), each summed in ascending row order
 * into its own partial [F, H] (chunk 0 straight into out), then the partials are added in
 * chunk order: every element is summed in the same order whatever the thread count. */
#define GRAD_CHUNKS 8
#define GRAD_PARTIAL_BYTES ((size_t)64 << 20)
int eegsnn_sparse_weight_grad(const int64_t *row_ptr, const int32_t *col, const float *val,
                              idx_t rows, idx_t num_inputs, const float *grad, idx_t hidden,
                              float *out) {
    const size_t size = (size_t)num_inputs * (size_t)hidden;
    idx_t chunks = GRAD_CHUNKS;
    while (chunks > 1 && ((size_t)(chunks - 1) * size * sizeof(float) > GRAD_PARTIAL_BYTES ||
                          rows < 64 * chunks))
        --chunks;
    float *partial = NULL;
    if (chunks > 1) {
        partial = (float *)calloc((size_t)(chunks - 1) * size, sizeof(float));
        if (partial == NULL) return 1;
    }
    memset(out, 0, size * sizeof(float));
#pragma omp parallel for schedule(static)
    for (idx_t c = 0; c < chunks; ++c) {
        float *acc = c == 0 ? out : partial + (size_t)(c - 1) * size;
        const idx_t r1 = rows * (c + 1) / chunks;
        for (idx_t r = rows * c / chunks; r < r1; ++r) {
            const float *g = grad + r * hidden;
            for (int64_t j = row_ptr[r]; j < row_ptr[r + 1]; ++j) {
                float *dst = acc + (idx_t)col[j] * hidden;
                if (val[j] == 1.0f) add_row(dst, g, hidden);
                else axpy_row(dst, val[j], g, hidden);
            }
        }
    }
    if (partial != NULL) {
        const idx_t blocks = (idx_t)((size + BLOCK - 1) / BLOCK);
#pragma omp parallel for schedule(static)
        for (idx_t blk = 0; blk < blocks; ++blk) {
            const idx_t lo = blk * BLOCK;
            const idx_t width = (lo + BLOCK < (idx_t)size ? lo + BLOCK : (idx_t)size) - lo;
            for (idx_t c = 1; c < chunks; ++c)
                add_row(out + lo, partial + (size_t)(c - 1) * size + lo, width);
        }
        free(partial);
    }
    return 0;
}

/* One block of neurons over all steps; one loop per reset mechanism (each vectorises). */
VECTOR_CLONES static void leaky_block(const float *current, idx_t num_steps, idx_t stride,
                                      idx_t width, float beta, float threshold, int mechanism,
                                      float *spikes, float *membrane) {
    float mem[BLOCK];
    for (idx_t k = 0; k < width; ++k) mem[k] = 0.0f;
    for (idx_t t = 0; t < num_steps; ++t) {
        const float *x = current + t * stride;
        float *s = spikes + t * stride;
        float *u = membrane + t * stride;
        /* R[t] = H(U[t-1] - thr) from the stored membrane, as 0/1 (branch-free: vectorises) */
        if (mechanism == 0) {
            for (idx_t k = 0; k < width; ++k) {
                const float reset = (float)(mem[k] > threshold);
                mem[k] = beta * mem[k] + x[k] - reset * threshold;
            }
        } else if (mechanism == 1) {
            for (idx_t k = 0; k < width; ++k) {
                const float keep = (float)!(mem[k] > threshold);
                mem[k] = keep * (beta * mem[k]) + x[k];
            }
        } else {
            for (idx_t k = 0; k < width; ++k) mem[k] = beta * mem[k] + x[k];
        }
        for (idx_t k = 0; k < width; ++k) {
            u[k] = mem[k];
            s[k] = (mem[k] - threshold > 0.0f) ? 1.0f : 0.0f;
        }
    }
}

/* Leaky recurrence from U[-1] = 0; mechanism 0 subtract, 1 zero, 2 none. */
void eegsnn_leaky_forward(const float *current, idx_t num_steps, idx_t num_neurons,
                          float beta, float threshold, int mechanism, float *spikes,
                          float *membrane) {
    const idx_t num_blocks = (num_neurons + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static)
    for (idx_t blk = 0; blk < num_blocks; ++blk) {
        const idx_t lo = blk * BLOCK;
        const idx_t width = (lo + BLOCK < num_neurons ? lo + BLOCK : num_neurons) - lo;
        leaky_block(current + lo, num_steps, num_neurons, width, beta, threshold, mechanism,
                    spikes + lo, membrane + lo);
    }
}

/* Surrogate derivative times grad_spikes, one loop per surrogate (each vectorises). */
VECTOR_CLONES static void direct_gradient(int code, double a, float threshold, const float *grad_spikes,
                            const float *membrane, idx_t width, float *out) {
    const float a32 = (float)a;
    switch (code) {
    case 0: /* fast sigmoid: 1 / (1 + a|x|)^2 */
        for (idx_t k = 0; k < width; ++k) {
            const float d = 1.0f + a32 * fabsf(membrane[k] - threshold);
            out[k] = grad_spikes[k] / (d * d);
        }
        break;
    case 1: /* sigmoid: a s(ax) s(-ax) */
        for (idx_t k = 0; k < width; ++k) {
            const double x = (double)(membrane[k] - threshold);
            out[k] = grad_spikes[k]
                     * (float)(a / ((1.0 + exp(-a * x)) * (1.0 + exp(a * x))));
        }
        break;
    case 2: /* atan: (a/2) / (1 + (pi a x / 2)^2) */
        for (idx_t k = 0; k < width; ++k) {
            const double s = 0.5 * M_PI * a * (double)(membrane[k] - threshold);
            out[k] = grad_spikes[k] * (float)(0.5 * a / (1.0 + s * s));
        }
        break;
    case 3: /* triangular: max(0, 1 - |x|/a) / a */
        for (idx_t k = 0; k < width; ++k) {
            const float v = 1.0f - fabsf(membrane[k] - threshold) / a32;
            out[k] = grad_spikes[k] * (v > 0.0f ? v : 0.0f) / a32;
        }
        break;
    default: /* straight-through */
        for (idx_t k = 0; k < width; ++k) out[k] = grad_spikes[k];
    }
}

/* One block of neurons, backward over all steps. */
VECTOR_CLONES static void leaky_block_backward(const float *grad_spikes,
                                               const float *grad_membrane,
                                               const float *membrane, idx_t num_steps,
                                               idx_t stride, idx_t width, float beta,
                                               float threshold, int mechanism, int surrogate,
                                               double surrogate_param, float *grad_current) {
    float acc[BLOCK], direct[BLOCK];
    for (idx_t t = num_steps - 1; t >= 0; --t) {
        const float *u = membrane + t * stride;
        float *out = grad_current + t * stride;
        direct_gradient(surrogate, surrogate_param, threshold, grad_spikes + t * stride, u,
                        width, direct);
        if (grad_membrane != NULL) {
            const float *gm = grad_membrane + t * stride;
            for (idx_t k = 0; k < width; ++k) direct[k] += gm[k];
        }
        if (t == num_steps - 1) {
            for (idx_t k = 0; k < width; ++k) acc[k] = direct[k];
        } else if (mechanism == 1) { /* dU[t+1]/dU[t] = beta (1 - S[t]) */
            for (idx_t k = 0; k < width; ++k)
                acc[k] = direct[k] + (u[k] > threshold ? 0.0f : beta) * acc[k];
        } else {
            for (idx_t k = 0; k < width; ++k) acc[k] = direct[k] + beta * acc[k];
        }
        for (idx_t k = 0; k < width; ++k) out[k] = acc[k];
    }
}

/* grad_current = dL/dX from dL/dS, dL/dU (grad_membrane may be NULL) and U. */
void eegsnn_leaky_backward(const float *grad_spikes, const float *grad_membrane,
                           const float *membrane, idx_t num_steps, idx_t num_neurons,
                           float beta, float threshold, int mechanism, int surrogate,
                           double surrogate_param, float *grad_current) {
    const idx_t num_blocks = (num_neurons + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static)
    for (idx_t blk = 0; blk < num_blocks; ++blk) {
        const idx_t lo = blk * BLOCK;
        const idx_t width = (lo + BLOCK < num_neurons ? lo + BLOCK : num_neurons) - lo;
        leaky_block_backward(grad_spikes + lo, grad_membrane ? grad_membrane + lo : NULL,
                             membrane + lo, num_steps, num_neurons, width, beta, threshold,
                             mechanism, surrogate, surrogate_param, grad_current + lo);
    }
}

#ifdef _WIN32
/* setuptools links extension modules with /EXPORT:PyInit_<name>; the library is loaded with
 * ctypes, never imported, so this symbol only has to exist. */
__declspec(dllexport) void *PyInit__ckernels(void) { return 0; }
#endif
