// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "tutorial",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Drover by path; from a repository: .package(url: "<drover's git URL>", branch: "main")
        .package(name: "drover", path: "../../..")
    ],
    targets: [
        .executableTarget(
            name: "tutorial",
            dependencies: [
                .product(name: "DroverCore", package: "drover"),  // TaskFunction, TaskRegistry, Delayed
                .product(name: "DroverLocal", package: "drover"),  // threads, processes, single-threaded
                .product(name: "DroverClient", package: "drover"),  // Client, Future, LocalCluster
                .product(name: "DroverCLI", package: "drover"),  // the roles a local cluster's children play
            ]
        )
    ]
)
