public import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
public import JSONCore
#if canImport(Glibc)
import Glibc
#endif

/// A Python server of Tests/e2e on a free loopback port: it prints its port, and stops when this object goes
/// away (its stdin closes).
public final class LoopbackScript: Sendable {
    private let process: Process
    private let input: Pipe
    public let port: Int

    public init(_ name: String) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("e2e/\(name)").path
        let (process, input, output) = (Process(), Pipe(), Pipe())
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), let b = byte.first, b != 0x0A { line.append(b) }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw CocoaError(.fileReadCorruptFile) }
        (self.process, self.input, self.port) = (process, input, port)
    }

    public var base: String { "http://127.0.0.1:\(port)" }

    /// Starts the script on a thread of its own (`offPool`): waiting for a Python process to start.
    public static func start(_ name: String) async throws -> LoopbackScript {
        try await offPool { try LoopbackScript(name) }
    }

    /// A request to the server without blocking a thread: the body, or nil unless it answered 2xx.
    public func fetch(_ path: String, post json: String? = nil) async throws -> Data? {
        var request = URLRequest(url: URL(string: base + path)!)
        request.timeoutInterval = 10
        if let json {
            request.httpMethod = "POST"
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse).map { (200..<300).contains($0.statusCode) } ?? false) ? data : nil
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }
}

/// The webhook sink (Tests/e2e/webhook_sink.py): a real HTTP server on a free loopback port.
public final class WebhookSink: Sendable {
    private let server: LoopbackScript
    public var port: Int { server.port }

    public init() throws { server = try LoopbackScript("webhook_sink.py") }

    /// Starts the sink on a thread of its own (`offPool`).
    public static func start() async throws -> WebhookSink { try await offPool { try WebhookSink() } }

    public var base: String { server.base }

    /// What the sink recorded (POST/PUT/PATCH to /hooks/...).
    public func received() async throws -> [JSONObject] {
        try await server.fetch("/received").flatMap { try JSON.parse(Array($0)).arrayValue?.compactMap(\.objectValue) } ?? []
    }
}

/// A loopback port nothing listens on (bound, then released).
public func unusedLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}
