// MULADD(a, b, c) is a * b + c, one instruction where the device has one. PoCL compiles mad() to
// a multiply and an add even on CPUs with FMA units (the assembly of conv_padded, PoCL 3.1 on
// AVX-512: vmulps and vaddps), twice the instructions of fma(), which becomes one vfmadd where
// the compiler targets FMA (__FMA__ on x86, __ARM_FEATURE_FMA on Arm). On PoCL's 2 cores that
// alone took a 3x3 convolution from 46 to 33 ms. GPUs compile mad() to their multiply-add
// already; on a CPU without FMA units fma() would be a library call, so mad() stays there.
// Sources #include this file; the build inlines it.
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define MULADD(a, b, c) fma(a, b, c)
#else
#define MULADD(a, b, c) mad(a, b, c)
#endif
