import CBLAS
import CMPI
import CZstd
import Foundation

/// Versions of the compiler and native libraries this binary was built with and runs against.
struct LibraryVersions: Codable, Equatable {
    /// Swift compiler that built the binary, as the lower bound of `#if compiler(>=…)` checks.
    var swiftCompiler: String
    /// `openblas_get_config()`: version, build options and the CPU kernel chosen at run time.
    var openBLAS: String
    /// `MPI_Get_library_version()`, which MPI allows before MPI_Init.
    var mpi: String
    /// `ZSTD_versionString()`.
    var zstd: String
    /// Kernel and machine from uname.
    var operatingSystem: String

    enum CodingKeys: String, CodingKey {
        case swiftCompiler = "swift_compiler"
        case openBLAS = "openblas"
        case mpi = "openmpi"
        case zstd
        case operatingSystem = "os"
    }

    static func current() -> LibraryVersions {
        LibraryVersions(swiftCompiler: swiftCompilerVersion, openBLAS: openBLASConfiguration(), mpi: mpiLibraryVersion(),
                        zstd: String(cString: ZSTD_versionString()), operatingSystem: operatingSystemVersion())
    }

    static var swiftCompilerVersion: String {
        #if compiler(>=7.0)
        return ">= 7.0"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #elseif compiler(>=6.0)
        return "6.0"
        #elseif compiler(>=5.10)
        return "5.10"
        #else
        return "5.9"
        #endif
    }

    static func openBLASConfiguration() -> String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config).trimmingCharacters(in: .whitespaces)
    }

    static func mpiLibraryVersion() -> String {
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_LIBRARY_VERSION_STRING) + 1)
        var length: Int32 = 0
        guard MPI_Get_library_version(&buffer, &length) == 0 else { return "unknown" }
        // Open MPI appends its repository revision and release date after a comma; the first line is enough.
        let text = String(cString: buffer)
        return text.split(separator: "\n").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? text
    }

    static func operatingSystemVersion() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "unknown" }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return "\(field(name.sysname)) \(field(name.release)) \(field(name.machine))"
    }
}
