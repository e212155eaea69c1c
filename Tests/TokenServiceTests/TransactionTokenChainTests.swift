import Foundation
import JOSE
import JSONCore
import Pipeline
import Testing
import TestSupport
@testable import TokenService

/// Transaction Tokens end to end: the real binary as the Transaction Token Service, PyJWT and joserfc
/// verifying what it issues, and a call chain on loopback — the gateway (this test) calls workload A,
/// which passes the same Txn-Token on to workload B; both are `example-backend` with the Swift
/// `TransactionTokenMiddleware`.
@Suite(.serialized) struct TransactionTokenChainTests {
    static let domain = "trust.example"

    static func workload(_ server: EndToEndTests.Server, name: String, next: String? = nil) throws -> (Process, String) {
        let port = unusedLoopbackPort()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: WorkerLaunch.siblingExecutable(named: "example-backend"))
        p.arguments = ["--issuer", server.base, "--port", String(port), "--trust-domain", domain, "--name", name] + (next.map { ["--next", $0] } ?? [])
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, "http://127.0.0.1:\(port)")
    }

    static func call(_ url: String, txnToken: String?) async throws -> (status: Int, body: JSONObject) {
        let out = try await EndToEndTests.run("curl", ["-s", "-w", "\n%{http_code}", "--max-time", "10", "-X", "POST"]
                                            + (txnToken.map { ["-H", "Txn-Token: \($0)"] } ?? []) + [url + "/transactions"]).output
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let body = (try? JSON.parse(Array(lines.dropLast().joined(separator: "\n").utf8)).objectValue) ?? [:]
        return (Int(lines.last ?? "") ?? 0, body)
    }

    @Test func aThreeHopChainVerifiedByIndependentLibraries() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("tokenservice-txn-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let server = try await EndToEndTests.start(pipelines: [:], log: log) { config in
            config["transaction_tokens"] = ["trust_domains": [.string(Self.domain)], "signing_key": "es-1"]
            for id in ["gateway", "svc-a"] {
                config.addClient(["client_id": .string(id), "client_secret": "billing-secret-0123456789abcdef0123",
                                  "grant_types": [.string(TokenExchangeTests.urn)], "audiences": ["https://api.example.com"],
                                  "token_exchange": ["subject_audiences": ["https://api.example.com"]], "transaction_tokens": ["allowed": true]])
            }
        }
        defer { server.process.terminate(); server.process.waitUntilExit(); server.fixture.cleanUp() }

        let script = EndToEndTests.repoRoot.appendingPathComponent("Tests/e2e/verify_txn_tokens.py").path
        let result = try await EndToEndTests.run("python3", [script, server.base, server.fixture.billingSecret, Self.domain])
        #expect(result.status == 0, "\(result.output)")
        let summary = try #require(try JSON.parse(Array(result.output.trimmingCharacters(in: .whitespacesAndNewlines).utf8)).objectValue)
        let txnToken = try #require(summary["txn_token"]?.stringValue), accessToken = try #require(summary["access_token"]?.stringValue)

        let (b, bURL) = try Self.workload(server, name: "B")
        defer { kill(b.processIdentifier, SIGKILL); b.waitUntilExit() }
        let (a, aURL) = try Self.workload(server, name: "A", next: bURL)
        defer { kill(a.processIdentifier, SIGKILL); a.waitUntilExit() }
        try await EndToEndTests.waitUntilUp(aURL + "/healthz")
        try await EndToEndTests.waitUntilUp(bURL + "/healthz")

        // gateway → A → B: the same transaction, verified at every hop.
        let chain = try await Self.call(aURL, txnToken: txnToken)
        #expect(chain.status == 200, "\(chain.body)")
        #expect(chain.body["workload"] == "A" && chain.body["next_status"] == 200)
        let hopB = try #require(chain.body["next"]?.objectValue)
        #expect(hopB["workload"] == "B" && hopB["txn"] == summary["txn"] && chain.body["txn"] == summary["txn"])
        #expect(hopB["sub"] == "billing" && hopB["req_wl"] == "gateway")

        // A tampered tctx (signature kept) is refused at the first hop and at the last.
        var parts = txnToken.split(separator: ".").map(String.init)
        let payload = try #require(Base64URL.decode(parts[1]))
        var claims = try #require(try JSON.parse(payload).objectValue)
        claims["tctx"] = ["action": "BUY", "ticker": "MSFT", "quantity": "100000"]
        parts[1] = Base64URL.encode(Array(JSON.serializeString(.object(claims)).utf8))
        let tampered = parts.joined(separator: ".")
        #expect(try await Self.call(aURL, txnToken: tampered).status == 401)
        #expect(try await Self.call(bURL, txnToken: tampered).status == 401)
        // Not a Txn-Token: none, or an access token (typ at+jwt) in the header.
        #expect(try await Self.call(aURL, txnToken: nil).status == 401)
        #expect(try await Self.call(aURL, txnToken: accessToken).status == 401)

        // Tokens are never logged by the service.
        server.process.terminate()
        server.process.waitUntilExit()
        let logged = try String(contentsOf: log, encoding: .utf8)
        #expect(logged.contains("urn:ietf:params:oauth:grant-type:token-exchange"), "the access lines are there")
        for secret in [txnToken, accessToken, String(txnToken.split(separator: ".")[2]), server.fixture.billingSecret] {
            #expect(!logged.contains(secret))
        }
    }
}
