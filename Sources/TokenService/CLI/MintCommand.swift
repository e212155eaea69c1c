import OAuthWire
import ArgumentParser
import Foundation
import JSONCore
import Logging
import Pipeline

/// `tokenservice mint`: the HTTP code path, offline, for operators and scripts.
struct MintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mint", abstract: "Mint tokens offline and print the token response.")

    @Option(help: "Configuration file.") var config: String
    @Option(help: "client_id.") var client: String
    @Option(help: "Grant type (default: client_credentials without --user, authorization_code with).") var grant: String?
    @Option(help: "Space-delimited scope.") var scope: String?
    @Option(help: "Audience.") var audience: String?
    @Option(help: "JSON file with the GenAuth user object.") var user: String?
    @Option(help: "JSON file with the pipeline context.") var context: String?
    @Option(help: "Nonce for the ID token.") var nonce: String?

    func run() async throws {
        try await OfflineSession.with(config: config) { try await mint($0) }
    }

    private func mint(_ session: OfflineSession) async throws {
        let state = session.state
        // The same grants as `serve`, offline: no request to log.
        let core = session.core
        let requestScope = RequestScope.offline(session.logger)
        let userObject = try user.map { try JSONFile.object($0) }
        let contextObject = try context.map { try JSONFile.object($0) } ?? [:]
        let grantType = grant ?? (userObject == nil ? "client_credentials" : "authorization_code")
        do {
            let response: TokenResponse
            if let handler = core.grants.handler(for: grantType, at: .token) {
                guard let registered = state.clients[client] else { throw CommandFailure("unknown client \(client)") }
                guard registered.config.grantTypes.contains(handler.grantType) else {
                    throw TokenError.unauthorizedClient("\(grantType) is not allowed for this client")
                }
                var form: [String: String] = ["grant_type": grantType]
                if let scope { form["scope"] = scope }
                if let audience { form["audience"] = audience }
                response = try await handler.issue(GrantRequest(client: registered, form: FormParameters(values: form),
                                                                info: .offline, state: state,
                                                                scope: requestScope), issuer: core.issuer)
            } else {
                guard let userObject else { throw CommandFailure("--user is required for \(grantType)") }
                var body: JSONObject = ["client_id": .string(client), "grant_type": .string(grantType), "user": .object(userObject),
                                        "context": .object(contextObject)]
                if let scope { body["scope"] = .string(scope) }
                if let audience { body["audience"] = .string(audience) }
                if let nonce { body["nonce"] = .string(nonce) }
                response = try await core.gatewayMint(requestScope).handle(try GatewayMint.parse(JSON.serialize(.object(body))), info: .offline,
                                                                           state: state, scope: requestScope)
            }
            print(String(decoding: response.body, as: UTF8.self))
        } catch let error as TokenError {
            throw CommandFailure(String(decoding: error.body, as: UTF8.self))
        }
    }
}

enum JSONFile {
    /// A JSON object from a file, a pipe (`<(echo …)`) or standard input (`-`).
    static func object(_ path: String) throws -> JSONObject {
        let handle = path == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: path)
        guard let handle, let data = try? handle.readToEnd() ?? Data() else { throw CommandFailure("cannot read \(path)") }
        do {
            guard let o = try JSON.parse(Array(data)).objectValue else { throw CommandFailure("\(path) must hold a JSON object") }
            return o
        } catch let e as JSONParseError {
            throw CommandFailure("\(path): \(e.message)")
        }
    }
}
