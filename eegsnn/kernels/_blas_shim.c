/* BLAS/LAPACK symbol shim for the scipy-openblas32 wheel (Linux x86_64 and aarch64).
 *
 * The Linux mlx[cpu] wheel resolves cblas_sgemm, sgetrf_ and friends through the dynamic
 * linker. The scipy-openblas32 wheel (OpenBLAS, built by the NumPy/SciPy team) exports the
 * same functions with a "scipy_" prefix (scipy_cblas_sgemm, scipy_sgetrf_, ...), so it
 * cannot stand in for MLX's bundled reference BLAS by itself. This library exports the
 * standard names as tail-jump trampolines through a table of function pointers; Python
 * (eegsnn/_blas.py) fills the table with the addresses of the prefixed functions via
 * eegsnn_blas_shim_init and then loads this library with RTLD_GLOBAL before mlx.core.
 *
 * A trampoline is one indirect jump: arguments (registers and stack, Fortran's hidden
 * string lengths included) and the return value pass through untouched, so no prototype is
 * declared here and nothing depends on the wheel at build time. Other architectures build
 * nothing (the extension is optional) and eegsnn falls back to the other BLAS options.
 *
 * EEGSNN_BLAS_SYMBOLS must list every BLAS/LAPACK function libmlx.so imports
 * (nm -D --undefined-only libmlx.so; tests/test_blas.py checks it); the index of each name
 * is its slot in the table.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))

#define EEGSNN_BLAS_SYMBOLS(X)                                                              \
    X(cblas_sgemm, 0) X(cblas_dgemm, 1) X(cblas_cgemm, 2) X(cblas_zgemm, 3)                 \
    X(sgetrf_, 4) X(dgetrf_, 5) X(sgetri_, 6) X(dgetri_, 7)                                 \
    X(sgeqrf_, 8) X(dgeqrf_, 9) X(sorgqr_, 10) X(dorgqr_, 11)                               \
    X(spotrf_, 12) X(dpotrf_, 13) X(strtri_, 14) X(dtrtri_, 15)                             \
    X(ssyevd_, 16) X(dsyevd_, 17) X(cheevd_, 18) X(zheevd_, 19)                             \
    X(sgesdd_, 20) X(dgesdd_, 21) X(cgesdd_, 22) X(zgesdd_, 23)                             \
    X(sgeev_, 24) X(dgeev_, 25) X(cgeev_, 26) X(zgeev_, 27)

#define EEGSNN_BLAS_COUNT 28

#define EEGSNN_NAME(name, index) #name,
static const char *const symbol_names[EEGSNN_BLAS_COUNT] = {EEGSNN_BLAS_SYMBOLS(EEGSNN_NAME)};

/* A call through a slot that was never filled: say so instead of jumping to address 0. */
static void unbound(void) {
    fputs("eegsnn: BLAS shim called before eegsnn_blas_shim_init; load it through "
          "eegsnn._blas\n", stderr);
    abort();
}

#define EEGSNN_UNBOUND(name, index) (void *)&unbound,
__attribute__((used, visibility("hidden"), aligned(16)))
void *eegsnn_blas_table[EEGSNN_BLAS_COUNT] = {EEGSNN_BLAS_SYMBOLS(EEGSNN_UNBOUND)};

#if defined(__x86_64__)
#define EEGSNN_TRAMPOLINE(name, index)                                                      \
    ".globl " #name "\n"                                                                    \
    ".type " #name ", @function\n"                                                          \
    ".p2align 4\n"                                                                          \
    #name ":\n"                                                                             \
    "    jmp *eegsnn_blas_table+8*" #index "(%rip)\n"                                       \
    ".size " #name ", .-" #name "\n"
#else /* aarch64: x16 is the intra-procedure-call scratch register (and BTI-compatible) */
#define EEGSNN_TRAMPOLINE(name, index)                                                      \
    ".globl " #name "\n"                                                                    \
    ".type " #name ", %function\n"                                                          \
    ".p2align 4\n"                                                                          \
    #name ":\n"                                                                             \
    "    adrp x16, eegsnn_blas_table+8*" #index "\n"                                        \
    "    ldr x16, [x16, #:lo12:eegsnn_blas_table+8*" #index "]\n"                           \
    "    br x16\n"                                                                          \
    ".size " #name ", .-" #name "\n"
#endif

__asm__(".text\n" EEGSNN_BLAS_SYMBOLS(EEGSNN_TRAMPOLINE));

/* Number of slots; names[i] is the standard name of slot i. */
__attribute__((visibility("default"))) int eegsnn_blas_shim_count(void) {
    return EEGSNN_BLAS_COUNT;
}

__attribute__((visibility("default"))) const char *eegsnn_blas_shim_name(int index) {
    return (index >= 0 && index < EEGSNN_BLAS_COUNT) ? symbol_names[index] : NULL;
}

/* Fill the table: addresses[i] is the function the standard name of slot i forwards to.
 * A NULL address leaves slot i unbound (Python only calls this with every address found).
 * Returns the number of slots filled. */
__attribute__((visibility("default"))) int eegsnn_blas_shim_init(void *const *addresses,
                                                                  int count) {
    int filled = 0;
    if (addresses == NULL || count != EEGSNN_BLAS_COUNT) return -1;
    for (int i = 0; i < EEGSNN_BLAS_COUNT; i++) {
        if (addresses[i] != NULL) {
            __atomic_store_n(&eegsnn_blas_table[i], addresses[i], __ATOMIC_RELEASE);
            filled++;
        }
    }
    return filled;
}

#else

/* Unsupported platform: an empty library (setup.py does not build it there). */
int eegsnn_blas_shim_count(void) { return 0; }

#endif
