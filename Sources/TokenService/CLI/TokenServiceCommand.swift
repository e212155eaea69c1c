import ArgumentParser

@main
struct TokenServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenservice",
        abstract: "OIDC token minting service: ID tokens, RFC 9068 access tokens, GenAuth pipelines, JWKS.",
        subcommands: [ServeCommand.self, KeysCommand.self, MintCommand.self, VerifyCommand.self, PipelineCommand.self,
                      ConfigCommand.self, PipelineWorkerCommand.self],
        defaultSubcommand: ServeCommand.self)
}

/// A failure a command reports as its exit status 1, with the message on stderr.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
