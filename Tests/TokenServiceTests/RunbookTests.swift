import Foundation
import JOSE
import JSONCore
import Testing
@testable import TokenService

/// The runbooks run as written: every ```sh block of a document, in order, in one shell, against a live
/// replica (waits shortened by their variables).
@Suite(.serialized) struct RunbookTests {
    /// The ```sh blocks of `document`, each without the indentation of its fence (blocks inside list items).
    static func shellBlocks(_ document: String) throws -> [String] {
        let text = try String(contentsOf: EndToEndTests.repoRoot.appendingPathComponent(document), encoding: .utf8)
        var blocks: [String] = []
        var current: [String]?
        var indent = 0
        for line in text.components(separatedBy: "\n") {
            let trimmed = line.drop { $0 == " " }
            if current == nil, trimmed.hasPrefix("```sh") {
                current = []
                indent = line.count - trimmed.count
            } else if current != nil, trimmed.hasPrefix("```") {
                blocks.append(current!.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current!.append(String(line.dropFirst(min(indent, line.prefix { $0 == " " }.count))))
            }
        }
        return blocks
    }

    @Test func theKeyRotationRunbookRunsAsWritten() async throws {
        let server = try await DevServer()
        let blocks = try Self.shellBlocks("docs/key-rotation.md")
        #expect(blocks.count == 7, "the setup and six steps")
        let keys = server.work.appendingPathComponent("keys").path
        let (status, output) = try await EndToEndTests.run("bash", ["-euo", "pipefail", "-c", blocks.joined(separator: "\n")], environment: [
            "TOKENSERVICE": EndToEndTests.binary, "CONFIG": server.configPath, "KEYS": keys, "BASE": server.base,
            "PID": String(server.pid), "JWKS_CACHE_SECONDS": "0", "LONGEST_TOKEN_SECONDS": "0",
        ])
        #expect(status == 0, "\(output)")
        let published = output.split(separator: "\n").filter { $0.hasPrefix("ed-1") }
        #expect(published == ["ed-1 es-1 rs-1 rs-2", "ed-1 es-1 rs-1 rs-2", "ed-1 es-1 rs-2"], "\(output)")
        #expect(!FileManager.default.fileExists(atPath: server.work.appendingPathComponent("keys/rs256.pem").path), "the old key file is gone")
        // Tokens are signed with the new key now.
        let token = try await EndToEndTests.run("curl", ["-s", "-u", "billing:billing-secret-0123456789abcdef0123", "-d", "grant_type=client_credentials",
                                                   server.base + "/oauth/token"]).output
        let jwt = try #require(try JSON.parse(Array(token.utf8)).objectValue?["access_token"]?.stringValue)
        let header = try #require(try JSON.parse(Base64URL.decode(String(jwt.split(separator: ".")[0])) ?? []).objectValue)
        #expect(header["kid"]?.stringValue == "rs-2")
    }
}
