import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import Pipeline

/// Entry point. SwiftNIO's event loops become Swift Concurrency's global executor (no thread hops
/// between request handling and I/O; `TOKENSERVICE_NIO_EXECUTOR=0` opts out). Pipeline workers skip
/// Swift Concurrency altogether: they are a blocking read–run–write loop.
@main
enum Main {
    static func main() {
        // A pipeline worker (or a client) that goes away mid-write must not take the process down: writes
        // to a closed pipe or socket fail with EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        let args = CommandLine.arguments
        if args.count > 1, args[1] == PipelineWorkerCommand.configuration.commandName {
            PipelineWorkerCommand.main(Array(args.dropFirst(2)))
            exit(0)
        }
        if ProcessInfo.processInfo.environment["TOKENSERVICE_NIO_EXECUTOR"] != "0" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        Task {
            await TokenServiceCommand.main()
            exit(0)
        }
        dispatchMain()
    }
}

struct TokenServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenservice",
        abstract: "OIDC token minting service: ID tokens, RFC 9068 access tokens, GenAuth pipelines, JWKS.",
        version: BuildInfo.description,
        subcommands: [ServeCommand.self, KeysCommand.self, MintCommand.self, VerifyCommand.self, PipelineCommand.self,
                      ConfigCommand.self, VersionCommand.self, PipelineWorkerCommand.self, MicrobenchCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// A failure a command reports as its exit status 1, with the message on stderr.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
