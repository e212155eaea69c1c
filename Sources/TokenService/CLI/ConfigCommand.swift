import ArgumentParser
import Logging
import Pipeline

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Configuration tools.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a configuration; list every problem.")
        @Argument(help: "Configuration file.") var path: String

        func run() async throws {
            try await OfflineSession.with(config: path) { session in
                let config = session.state.config
                print("\(path): ok (\(config.keys.count) keys, \(config.clients.count) clients, "
                      + "\(config.pipelines.values.map(\.count).reduce(0, +)) pipeline functions)")
            }
        }
    }
}
