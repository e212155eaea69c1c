import Claims
import Foundation
import JSONCore
import Logging
import Pipeline
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built `tokenservice` binary sits next to the test bundle; its `pipeline-worker` subcommand is the worker.
enum TestWorker {
    static var executable: String { WorkerLaunch.siblingExecutable(named: "tokenservice") }

    static func engine(workers: Int = 2, memoryMB: Int = 256) -> PipelineEngine {
        var config = PipelineEngine.Configuration(
            launch: WorkerLaunch(executable: executable, arguments: ["pipeline-worker"]),
            workers: workers, memoryLimitMB: memoryMB)
        config.killGraceMS = 100
        return PipelineEngine(configuration: config, logger: Logger(label: "pipeline-tests"))
    }
}

struct Fn {
    var name: String
    var source: String
    var timeoutMS = 3000
    var terminateOnTimeout = true
    var async = false
    var enabled = true
    /// A function that never calls back and never returns: an endless microtask loop.
    static func awaitLoop(name: String = "hang", timeoutMS: Int) -> Fn {
        Fn(name: name, source: "async function pipe(u, c, cb) { while (true) await null; }", timeoutMS: timeoutMS)
    }

    var spec: PipelineFunctionSpec {
        PipelineFunctionSpec(name: name, source: source, enabled: enabled, async: async, timeoutMS: timeoutMS,
                             terminateOnTimeout: terminateOnTimeout)
    }
}

extension PipelineEngine {
    func run(_ fns: [Fn], trigger: PipelineTrigger = .preAccessToken, user: JSONValue = .null,
             context: JSONObject = ["clientId": "billing", "accessTokenTarget": "programmaticAccount"],
             env: JSONObject = [:], outbound: OutboundPolicy = .none) async throws -> PipelineReport {
        let pipeline = try await prepare(fns.map(\.spec), trigger: trigger, env: env, outbound: outbound)
        return await run(pipeline, user: user, context: context)
    }
}

extension PipelineReport {
    /// The claims the pipeline's operations produce on an empty claim set.
    var claims: JSONObject {
        var o = JSONObject()
        extensions.apply(to: &o)
        return o
    }
}

/// The webhook sink (Tests/e2e/webhook_sink.py): a real HTTP server on a free loopback port, stopped
/// when this object goes away (its stdin closes).
final class WebhookSink: @unchecked Sendable {
    let process = Process()
    private let input = Pipe()
    let port: Int

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("e2e/webhook_sink.py").path
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), let b = byte.first, b != 0x0A { line.append(b) }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw CocoaError(.fileReadCorruptFile) }
        self.port = port
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// What the sink recorded (POST/PUT/PATCH to /hooks/...).
    func received() throws -> [JSONObject] {
        let curl = Process()
        let out = Pipe()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sf", "\(base)/received"]
        curl.standardOutput = out
        try curl.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return try JSON.parse(Array(data)).arrayValue?.compactMap(\.objectValue) ?? []
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }
}

/// A loopback port nothing listens on (bound, then released).
func unusedLoopbackPort() -> Int {
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
