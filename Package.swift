// swift-tools-version:6.1
import PackageDescription

let upcomingFeatures: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "drover",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "drover", targets: ["drover"]),
        .library(name: "DroverCore", targets: ["DroverCore"]),
        .library(name: "DroverLocal", targets: ["DroverLocal"]),
        .library(name: "DroverProto", targets: ["DroverProto"]),
        .library(name: "DroverClient", targets: ["DroverClient"]),
        .library(name: "DroverCLI", targets: ["DroverCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // Already in the graph through grpc-swift-nio-transport: certificates, keys, the TLS probe.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Length-field framing for `drover bench transport` (the lean transport it measures).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        .target(
            name: "DroverCore",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverProto",
            dependencies: [
                "DroverCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverScheduler",
            dependencies: [
                "DroverCore", "DroverProto", "CDroverSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverWorker",
            dependencies: [
                "DroverCore", "DroverProto", "DroverLocal", "CDroverSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverNanny",
            dependencies: [
                "DroverCore", "DroverProto", "DroverLocal",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverClient",
            dependencies: [
                "DroverCore", "DroverProto", "DroverLocal",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(name: "CDroverSupport"),
        // libsystemd (Debian's libsystemd-dev, installed by scripts/bootstrap).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(
            name: "DroverSystemd",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverDashboard",
            dependencies: [
                "DroverCore", "DroverScheduler", "DroverProto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverLocal",
            dependencies: ["DroverCore", "DroverProto", "CDroverSupport"],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DroverCLI",
            dependencies: [
                "DroverCore", "DroverLocal", "DroverProto", "DroverScheduler", "DroverWorker", "DroverClient",
                "DroverNanny", "DroverSystemd", "DroverDashboard",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(name: "drover", dependencies: ["DroverCLI", "DroverCore"], swiftSettings: upcomingFeatures),
        // A user's own binary: the stock CLI plus extra task functions. Tests use it to run
        // functions that fail or crash in child processes.
        .executableTarget(
            name: "drover-test-tasks",
            dependencies: ["DroverCLI", "DroverCore", "DroverClient"],
            swiftSettings: upcomingFeatures
        ),
        // Careless users' programs: one computes on the processes scheduler without calling
        // Drover.bootstrap, one starts Client.local without calling DroverCommand.bootstrap.
        // Tests check that each is told what to fix instead of multiplying.
        .executableTarget(
            name: "drover-test-forgets-bootstrap",
            dependencies: ["DroverCore", "DroverLocal"],
            swiftSettings: upcomingFeatures
        ),
        // Owns a local cluster and waits, to be killed by the tests with a signal.
        .executableTarget(
            name: "drover-test-owner",
            dependencies: ["DroverCore", "DroverClient", "DroverCLI"],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(
            name: "drover-test-forgets-roles",
            dependencies: ["DroverCore", "DroverClient", "DroverLocal"],
            swiftSettings: upcomingFeatures
        ),
        // The README's "Use Drover in your package" program, built here from the fixture package's
        // own source (Tests/Fixtures/UseDrover) so that the tests run the very file the README shows.
        .executableTarget(
            name: "drover-tutorial",
            dependencies: ["DroverCore", "DroverLocal", "DroverClient", "DroverCLI"],
            path: "Tests/Fixtures/UseDrover/Sources/tutorial",
            swiftSettings: upcomingFeatures
        ),
        .target(name: "DroverTestKit", dependencies: ["DroverCore", "DroverLocal"], swiftSettings: upcomingFeatures),
        // Fuzz targets (decoding, WorkerState, SchedulerState) for the tests and for drover-fuzz.
        .target(
            name: "DroverFuzzing",
            dependencies: [
                "DroverCore", "DroverProto", "DroverScheduler", "DroverWorker", "DroverTestKit",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: upcomingFeatures
        ),
        // A seeded runner; scripts/fuzz builds it with --sanitize=fuzzer as a libFuzzer binary.
        .executableTarget(name: "drover-fuzz", dependencies: ["DroverFuzzing"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "DroverFuzzingTests",
            dependencies: ["DroverCore", "DroverFuzzing", "DroverProto", "DroverWorker"],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(name: "DroverCoreTests", dependencies: ["DroverCore", "DroverTestKit"], swiftSettings: upcomingFeatures),
        .testTarget(
            name: "DroverClientTests",
            dependencies: [
                "DroverCore", "DroverClient", "DroverProto", "DroverTestKit",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: upcomingFeatures),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "DroverCore", "DroverClient", "DroverLocal", "DroverProto", "DroverTestKit", "DroverNanny",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "DroverWorkerTests",
            dependencies: ["DroverCore", "DroverWorker", "DroverProto", "CDroverSupport"],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "DroverSchedulerTests",
            dependencies: [
                "DroverCore", "DroverProto", "DroverScheduler", "DroverTestKit",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "DroverNannyTests",
            dependencies: ["DroverCore", "DroverNanny", "DroverLocal"],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "DroverSystemdTests",
            dependencies: ["DroverSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "DroverDashboardTests",
            dependencies: [
                "DroverCore", "DroverProto", "DroverScheduler", "DroverDashboard",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "DroverProtoTests",
            dependencies: [
                "DroverCore", "DroverProto", "DroverTestKit", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .testTarget(
            name: "DroverLocalTests",
            dependencies: ["DroverCore", "DroverLocal", "DroverProto", "DroverTestKit"],
            swiftSettings: upcomingFeatures
        ),
    ]
)
