import ArgumentParser
import Foundation
import Logging
import Pipeline
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Start the HTTP service.")

    @Option(help: "Configuration file.") var config: String = "config/dev.json"
    @Option(help: "Listen address (overrides the config).") var host: String?
    @Option(help: "Listen port (overrides the config).") var port: Int?
    @Option(help: "Log format: text or json.") var logFormat: String = "text"
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"

    func validate() throws {
        guard ServiceLogHandler.Format(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be trace, debug, info, notice, warning or error") }
    }

    func run() async throws {
        let format = ServiceLogHandler.Format(rawValue: logFormat) ?? .text, level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in ServiceLogHandler(label: label, format: format, level: level) }
        do {
            let built = try await buildApplication(configuration: .init(configPath: config, host: host, port: port,
                                                                        logger: Logger(label: "tokenservice")))
            defer {
                built.engine.shutdown()
                LogSink.standardError.flush()
            }
            try await built.run()
        } catch let error as ConfigError {
            throw CommandFailure("configuration \(config) is not valid:\n" + error.problems.map { "  - \($0)" }.joined(separator: "\n"))
        }
    }
}

struct PipelineWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline-worker", abstract: "Internal: a pipeline worker process (started by serve).", shouldDisplay: false)
    func run() throws {
        let status = PipelineWorker.main()
        if status != 0 { throw ExitCode(status) }
    }
}
