import Foundation
import JSONCore
import TestSupport

/// The real binary serving the development config (config/dev.json and its pipelines, keys made by
/// scripts/dev-keys.sh) as `make run` does, on a free port, in a scratch directory.
final class DevServer {
    let port: Int
    let work: URL
    private let process = Process()

    var base: String { "http://127.0.0.1:\(port)" }
    var configPath: String { work.appendingPathComponent("config/dev.json").path }

    var logPath: String { work.appendingPathComponent("service.log").path }
    var pid: Int32 { process.processIdentifier }

    /// `edit` may change the config (e.g. limits) before the server starts; `openFiles` starts it with
    /// that soft and hard `RLIMIT_NOFILE` (as `ulimit -Sn`/`-Hn` would). Its log goes to `logPath`.
    /// `ready` says when the server is up (default: `/healthz` answers 200 on the public listener).
    init(edit: (inout JSONObject) -> Void = { _ in }, openFiles: (soft: Int, hard: Int)? = nil,
         ready: ((DevServer) async throws -> Bool)? = nil) async throws {
        port = unusedLoopbackPort()
        work = FileManager.default.temporaryDirectory.appendingPathComponent("dev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("config"), withIntermediateDirectories: true)
        let repo = EndToEndTests.repoRoot
        try FileManager.default.copyItem(at: repo.appendingPathComponent("config/pipelines"), to: work.appendingPathComponent("config/pipelines"))
        var config = try JSON.parse(Array(try Data(contentsOf: repo.appendingPathComponent("config/dev.json")))).objectValue ?? [:]
        config["issuer"] = .string("http://127.0.0.1:\(port)")
        config["listen"] = ["host": "127.0.0.1", "port": .int(Int64(port))]
        edit(&config)
        try Data(JSON.serializeString(.object(config)).utf8).write(to: URL(fileURLWithPath: configPath))
        let keys = try await EndToEndTests.run(repo.appendingPathComponent("scripts/dev-keys.sh").path, [EndToEndTests.binary, work.appendingPathComponent("keys").path])
        guard keys.status == 0 else { throw CocoaError(.fileWriteUnknown) }
        if let openFiles {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -Sn \(openFiles.soft) && ulimit -Hn \(openFiles.hard) && exec \"$0\" \"$@\"",
                                 EndToEndTests.binary, "serve", "--config", configPath]
        } else {
            process.executableURL = URL(fileURLWithPath: EndToEndTests.binary)
            process.arguments = ["serve", "--config", configPath]
        }
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        try process.run()
        if let ready {
            for _ in 0..<200 {
                if (try? await ready(self)) == true { return }
                try await Task.sleep(for: .milliseconds(50))
            }
        } else {
            try await EndToEndTests.waitUntilUp(base + "/healthz")
        }
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits up to 10 s for the log to contain `text`.
    func waitForLog(_ text: String, occurrences: Int = 1) async throws -> Bool {
        for _ in 0..<200 {
            if log.components(separatedBy: text).count > occurrences { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    var isRunning: Bool { process.isRunning }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: work)
    }
}
