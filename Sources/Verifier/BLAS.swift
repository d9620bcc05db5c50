import Dispatch
#if canImport(Accelerate)
import Accelerate  // macOS: the system BLAS, linked
#else
import CBLAS  // Linux: OpenBLAS, loaded at first use with its kernel chosen from cpuid (Sources/CBLAS/blas_loader.c)
#endif

/// The BLAS library under the forward passes, and the kernel it runs: what `forward --json` and `make bench` print.
///
/// On Linux the library is not linked but loaded when the first forward pass starts. A DYNAMIC_ARCH OpenBLAS picks its
/// kernel once, as it loads, from the CPU models it knew when it was built; on a newer CPU it falls back to its
/// generic SSE3 "Prescott" kernel, several times slower. Loading it ourselves lets us read the CPU's features first
/// (cpuid) and set `OPENBLAS_CORETYPE` to the family they call for (AVX-512 → SkylakeX, AVX2 + FMA → Haswell, or Zen
/// on AMD, AVX → Sandybridge); a value the user set always wins, and arm64 is left to OpenBLAS. `MODELPORT_BLAS` names
/// another library file to load instead (any with `cblas_sgemm`).
public struct BLASLibrary: Sendable {
    /// The library file.
    public var library: String
    /// The kernel it runs (OpenBLAS's core name), or "" when the library does not say.
    public var kernel: String
    /// The library's build description (`openblas_get_config`), or "".
    public var configuration: String
    /// The kernel family cpuid called for, or "" (left to the library).
    public var detectedKernel: String
    /// Who chose the kernel: "user" (`OPENBLAS_CORETYPE` was set), "cpuid", or "openblas" (its own detection).
    public var kernelChoice: String
    /// The library's own threads per call (the forward passes split rows over the cores themselves).
    public var threads: Int

    /// Starts loading the library on another thread, so that work before the first product overlaps it; `loaded()`
    /// waits for it to finish.
    static func loadInBackground() {
        #if !canImport(Accelerate)
        DispatchQueue.global(qos: .userInitiated).async { _ = modelport_blas_load() }
        #endif
    }

    /// Loads the library once (later calls return the same), or says why none could be loaded.
    public static func loaded() throws -> BLASLibrary {
        #if canImport(Accelerate)
        return BLASLibrary(library: "Accelerate", kernel: "", configuration: "", detectedKernel: "", kernelChoice: "system", threads: 1)
        #else
        let info = modelport_blas_load().pointee
        guard info.loaded != 0 else {
            throw VerifierError("no BLAS library could be loaded for the forward pass (\(String(cString: info.library))): "
                                + "install OpenBLAS (Debian: libopenblas0) or name one with MODELPORT_BLAS")
        }
        return BLASLibrary(library: String(cString: info.library), kernel: String(cString: info.core),
                           configuration: String(cString: info.config), detectedKernel: String(cString: info.detected_core),
                           kernelChoice: String(cString: info.core_choice), threads: Int(modelport_blas_threads()))
        #endif
    }
}

/// The one matrix product the forward passes use, row-major: `C = alpha · op(A) · op(B) + beta · C`.
enum BLAS {
    @inline(__always)
    static func sgemm(transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                      b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        #if canImport(Accelerate)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #else
        modelport_blas_sgemm(Int32(MODELPORT_BLAS_ROW_MAJOR), Int32(MODELPORT_BLAS_NO_TRANS),
                             Int32(transposeB ? MODELPORT_BLAS_TRANS : MODELPORT_BLAS_NO_TRANS), Int32(m), Int32(n), Int32(k),
                             alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #endif
    }
}
