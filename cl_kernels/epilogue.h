// The activation folded into the kernel that produces its operand (runtime/src/ops/epilogue.hpp
// sets EPILOGUE_LO and EPILOGUE_HI, and EPILOGUE_PASSES_LO for clip; or EPILOGUE_GELU): FINISH
// applies it to a value about to be stored (of any float type; v may be evaluated twice, so it
// must have no side effects); PASSES(v) is where a clamp's derivative is 1, for a backward that
// masks the gradient by it (relu passes (lo, hi], clip [lo, hi]). Without an epilogue FINISH is
// the identity. GELU(x) is activation.cl's too, so a folded GELU is the one it computes. Sources
// #include this file; the build inlines it.
#define GELU(x) (0.5f * (x) * (1.0f + erf((x)*0.70710678118654752f)))
#ifdef EPILOGUE_LO
#define FINISH(v) fmin(fmax((v), EPILOGUE_LO), EPILOGUE_HI)
#ifdef EPILOGUE_PASSES_LO
#define PASSES(v) ((v) >= EPILOGUE_LO && (v) <= EPILOGUE_HI)
#else
#define PASSES(v) ((v) > EPILOGUE_LO && (v) <= EPILOGUE_HI)
#endif
#elif defined(EPILOGUE_GELU)
#define FINISH(v) GELU(v)
#else
#define FINISH(v) (v)
#endif
