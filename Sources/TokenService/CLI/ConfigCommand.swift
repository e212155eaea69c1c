import ArgumentParser
import Logging
import Pipeline

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Configuration tools.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration; list every problem.")
        @Argument(help: "Configuration file.") var path: String

        func run() async throws {
            var logger = Logger(label: "tokenservice")
            logger.logLevel = .warning
            let engine = PipelineEngine.forThisExecutable(logger: logger)
            defer { engine.shutdown() }
            do {
                let state = try await ServiceState.load(path: path, engine: engine)
                print("\(path): ok (\(state.config.keys.count) keys, \(state.config.clients.count) clients, "
                      + "\(state.config.preIDToken.count + state.config.preAccessToken.count) pipeline functions)")
            } catch {
                throw CommandFailure("\(path): \(error.problems.count) problem(s)\n" + error.problems.map { "  - \($0)" }.joined(separator: "\n"))
            }
        }
    }
}
