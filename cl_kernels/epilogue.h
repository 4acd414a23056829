// The activation folded into the kernel that produces its operand (runtime/src/ops/epilogue.hpp
// sets EPILOGUE_LO and EPILOGUE_HI, and EPILOGUE_PASSES_LO for clip): FINISH applies it to a
// value about to be stored; PASSES(v) is where its derivative is 1, for a backward that masks the
// gradient by it (relu passes (lo, hi], clip [lo, hi]). Without an epilogue FINISH is the
// identity. Sources #include this file; the build inlines it.
#ifdef EPILOGUE_LO
#define FINISH(v) fmin(fmax((v), EPILOGUE_LO), EPILOGUE_HI)
#ifdef EPILOGUE_PASSES_LO
#define PASSES(v) ((v) >= EPILOGUE_LO && (v) <= EPILOGUE_HI)
#else
#define PASSES(v) ((v) > EPILOGUE_LO && (v) <= EPILOGUE_HI)
#endif
#else
#define FINISH(v) (v)
#endif
