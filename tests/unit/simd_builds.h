/*
 * simd_builds.h - a nodes-c source compiled twice more inside a unit test,
 * with renamed functions, as the library builds it: -O2 with vectorization
 * and without the unit build's sanitizers (whose per-access checks stop
 * the vectorizer), once for AVX2 (names avx2_X) and once with KN_SIMD
 * empty, SSE2 only as -DKN_SIMD= would build it (names sse2_X). The
 * library promises the same samples from both.
 *
 * The test, on x86-64 gcc, defines SIMD_BUILDS_SRC (the source's path) and
 * maps every name the source defines, its static ones too, to PFX(name);
 * then includes this header (no include guard: once per test). The
 * inline helpers the loops call (knmath.h, ...) are given the same
 * options, or gcc does not inline them and the loops stay scalar.
 */
#define CAT(a, b)  a##b
#define XCAT(a, b) CAT(a, b)
#define PFX(name)  XCAT(PREFIX, name)
#define VECTORIZE                                                                                  \
    __attribute__((optimize("O2", "tree-vectorize", "no-trapping-math"),                           \
                   no_sanitize("address", "undefined")))
#define inline inline VECTORIZE
#undef KN_SIMD
#define KN_SIMD VECTORIZE __attribute__((target("avx2")))
#define PREFIX  avx2_
#include SIMD_BUILDS_SRC
#undef KN_SIMD
#undef PREFIX
#define KN_SIMD VECTORIZE
#define PREFIX  sse2_
#include SIMD_BUILDS_SRC
#undef PREFIX
#undef inline
