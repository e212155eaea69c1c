// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tokenservice",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tokenservice", targets: ["TokenService"]),
        .library(name: "JOSE", targets: ["JOSE"]),
        .library(name: "Claims", targets: ["Claims"]),
        .library(name: "TokenVerifier", targets: ["TokenVerifier"]),
        .library(name: "TokenVerifierHummingbird", targets: ["TokenVerifierHummingbird"]),
        .executable(name: "example-backend", targets: ["ExampleBackend"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(
            name: "CJavaScriptCore", pkgConfig: "javascriptcoregtk-4.1",
            providers: [.apt(["libjavascriptcoregtk-4.1-dev"])]),
        .target(name: "CPipelineSupport"),
        .target(name: "COutboundHTTP", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "JSONCore", dependencies: ["CJansson"], swiftSettings: swiftSettings),
        .target(name: "RESP", dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                                             .product(name: "NIOSSL", package: "swift-nio-ssl")],
                swiftSettings: swiftSettings),
        .target(name: "JOSE", dependencies: ["COpenSSL", "JSONCore"], swiftSettings: swiftSettings),
        .target(name: "OAuthWire", dependencies: ["JOSE"], swiftSettings: swiftSettings),
        .target(name: "Claims", dependencies: ["JSONCore", "JOSE"], swiftSettings: swiftSettings),
        .target(
            name: "Pipeline",
            dependencies: ["CJavaScriptCore", "CPipelineSupport", "COutboundHTTP", "JSONCore", "JOSE", "Claims",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            resources: [.embedInCode("Worker/bootstrap.js")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "TokenService",
            dependencies: [
                "JOSE", "Claims", "JSONCore", "OAuthWire", "Pipeline", "RESP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
        // The verifier for backends depends on no web framework; its Hummingbird middleware is a product of its own.
        .target(name: "TokenVerifier", dependencies: ["JOSE", "Claims", "JSONCore", "OAuthWire"], swiftSettings: swiftSettings),
        .target(
            name: "TokenVerifierHummingbird",
            dependencies: ["TokenVerifier", "Claims", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "ExampleBackend",
            dependencies: ["TokenVerifier", "TokenVerifierHummingbird", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        // The minimal SwiftNIO HTTP/1.1 server `make bench` measures the service's HTTP floor against.
        .executableTarget(name: "NIOFloor", dependencies: ["COpenSSL", .product(name: "NIOCore", package: "swift-nio"),
                                                           .product(name: "NIOHTTP1", package: "swift-nio"),
                                                           .product(name: "NIOPosix", package: "swift-nio")],
                          path: "Bench/NIOFloor", swiftSettings: swiftSettings),
        // Fuzz targets for the parsers of client input (make fuzz builds it with libFuzzer; a plain build
        // replays files through the same targets).
        .executableTarget(name: "TokenServiceFuzz", dependencies: ["JOSE", "JSONCore", "Claims", "OAuthWire", "Pipeline"],
                          path: "Fuzz/Sources", swiftSettings: swiftSettings),
        .testTarget(name: "JSONCoreTests", dependencies: ["JSONCore"], swiftSettings: swiftSettings),
        .testTarget(name: "JOSETests", dependencies: ["JOSE", "JSONCore"], swiftSettings: swiftSettings),
        .testTarget(name: "ClaimsTests", dependencies: ["Claims", "JOSE"], swiftSettings: swiftSettings),
        .target(name: "TestSupport", dependencies: ["JSONCore"], path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "JSONCore", "Claims", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TokenServiceTests",
            dependencies: [
                "TokenService", "JOSE", "Claims", "JSONCore", "OAuthWire", "TestSupport", "TokenVerifier",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
    ]
)
