// swift-tools-version:5.9
import PackageDescription

// Native libraries come from Debian packages (see scripts/setup.sh):
// libopenblas-dev, libzstd-dev, libopenmpi-dev and zlib1g-dev.
let releaseSpeed: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "KVCacheFactory",
    products: [
        .executable(name: "kvfactory", targets: ["KVFactoryCLI"]),
    ],
    targets: [
        // System libraries and the C shim for MPI macros that Swift cannot import.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c"),
        .target(name: "MPIShim", dependencies: ["CMPI"], path: "Sources/MPIShim"),

        // Tensor kernels: BLAS wrappers, SIMD loops, half-precision conversion, threading.
        .target(name: "TensorKernels", dependencies: ["CBLAS"], swiftSettings: releaseSpeed),
        // Model file formats: GGUF reading and dequantization.
        .target(name: "ModelFormats", dependencies: ["TensorKernels"], swiftSettings: releaseSpeed),
        // Tokenizers built from GGUF metadata.
        .target(name: "Tokenization", dependencies: ["ModelFormats"], swiftSettings: releaseSpeed),
        // Jinja chat-template rendering.
        .target(name: "ChatTemplates", swiftSettings: releaseSpeed),
        // KV cache and compression policies; knows nothing about model files.
        .target(name: "KVPolicies", dependencies: ["TensorKernels", "CBLAS"], swiftSettings: releaseSpeed),
        // Llama-family transformer forward pass, generation and sampling.
        .target(name: "Modeling",
                dependencies: ["TensorKernels", "ModelFormats", "Tokenization", "ChatTemplates", "KVPolicies"],
                swiftSettings: releaseSpeed),
        // Benchmarks: needle-in-a-haystack and LongBench data, prompts and their official metrics.
        .target(name: "Benchmarks", dependencies: ["Tokenization"], swiftSettings: releaseSpeed),
        // Reports: PNG (through zlib) and SVG heatmaps and charts.
        .target(name: "Report", dependencies: ["CZlib"], swiftSettings: releaseSpeed),
        // Cluster: MPI wrapper, work distribution across ranks, results journal and resume.
        .target(name: "Cluster", dependencies: ["MPIShim", "CMPI", "CZstd"], swiftSettings: releaseSpeed),
        // Pipeline: a model split by layers across the ranks of a replica, with compressed activations between stages.
        .target(name: "Pipeline", dependencies: ["Cluster", "Modeling", "KVPolicies"], swiftSettings: releaseSpeed),
        // Multi-rank test program of the cluster layer, started by ClusterTests under mpirun.
        .executableTarget(name: "cluster-selftest", dependencies: ["Cluster"], path: "Sources/ClusterSelfTest"),
        // The kvfactory command-line tool.
        .executableTarget(name: "KVFactoryCLI",
                          dependencies: ["Modeling", "ModelFormats", "Tokenization", "ChatTemplates", "KVPolicies",
                                         "Benchmarks", "Report", "Cluster", "Pipeline", "CBLAS"],
                          swiftSettings: releaseSpeed),

        .testTarget(name: "TensorKernelsTests", dependencies: ["TensorKernels"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats"]),
        .testTarget(name: "TokenizationTests", dependencies: ["Tokenization", "ModelFormats"]),
        .testTarget(name: "ChatTemplatesTests", dependencies: ["ChatTemplates"]),
        .testTarget(name: "KVPoliciesTests", dependencies: ["KVPolicies"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks"]),
        .testTarget(name: "ReportTests", dependencies: ["Report"]),
        .testTarget(name: "ClusterTests", dependencies: ["Cluster"]),
        // Runs the release kvfactory binary alone and under mpirun.
        .testTarget(name: "KVFactoryCLITests"),
        .testTarget(name: "ModelingTests", dependencies: ["Modeling", "ModelFormats", "Tokenization", "ChatTemplates"]),
    ]
)
