import Foundation
import JOSE
import JSONCore
import Pipeline
import Synchronization
import Testing
import TestSupport
import TokenVerifier
@testable import TokenService

/// The Swift verifier for backends (TokenVerifier) and the example backend that uses it.
@Suite(.serialized) struct VerifierTests {
    @Test func jwksCacheHonoursMaxAgeAndRefetchesAnUnknownKidAtMostOncePerInterval() async throws {
        let key = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "k1")
        let fetches = Atomic<Int>(0)
        let body = Data(JSON.serialize(JWKS(keys: [key.publicJWK!]).json))
        var config = JWKSCache.Configuration(url: URL(string: "http://issuer.invalid/jwks")!)
        config.refetchInterval = .milliseconds(200)
        let cache = JWKSCache(configuration: config) { _ in
            fetches.wrappingAdd(1, ordering: .relaxed)
            return (body, "public, max-age=600")
        }
        #expect(try await cache.key("k1") != nil)
        #expect(try await cache.key("k1") != nil)
        #expect(fetches.load(ordering: .relaxed) == 1, "cached for max-age")
        for n in 0..<50 { #expect(try await cache.key("made-up-\(n)") == nil) }
        #expect(fetches.load(ordering: .relaxed) == 1, "no refetch within the interval of the last fetch")
        try await Task.sleep(for: .milliseconds(250))
        for n in 0..<50 { #expect(try await cache.key("made-up-\(n)") == nil) }
        #expect(fetches.load(ordering: .relaxed) == 2, "an unknown kid refetches once per interval, not once per token")
    }

    static func get(_ url: String, token: String, scheme: String = "Bearer", proof: String? = nil) async throws -> (status: Int, body: String) {
        let out = try await EndToEndTests.run("curl", ["-s", "-w", "\n%{http_code}", "--max-time", "10", "-H", "Authorization: \(scheme) \(token)"]
                                            + (proof.map { ["-H", "DPoP: \($0)"] } ?? []) + [url]).output
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test func theExampleBackendAcceptsOurTokensAcrossARotationAndRefusesTheRest() async throws {
        let server = try await EndToEndTests.start(pipelines: [:])
        defer { server.process.terminate(); server.process.waitUntilExit(); server.fixture.cleanUp() }
        let f = server.fixture
        let port = unusedLoopbackPort()
        let backend = Process()
        backend.executableURL = URL(fileURLWithPath: WorkerLaunch.siblingExecutable(named: "example-backend"))
        backend.arguments = ["--issuer", server.base, "--audience", "https://api.example.com", "--port", String(port), "--refetch-seconds", "1"]
        backend.standardOutput = FileHandle.nullDevice
        backend.standardError = FileHandle.nullDevice
        try backend.run()
        defer { kill(backend.processIdentifier, SIGKILL); backend.waitUntilExit() }
        let api = "http://127.0.0.1:\(port)"
        try await EndToEndTests.waitUntilUp(api + "/healthz")

        func token(_ scope: String = "invoices:read") async throws -> String {
            let out = try await EndToEndTests.run("curl", ["-s", "-u", "billing:\(f.billingSecret)", "-d", "grant_type=client_credentials",
                                                     "-d", "scope=\(scope)", server.base + "/oauth/token"]).output
            return try #require(try JSON.parse(Array(out.utf8)).objectValue?["access_token"]?.stringValue)
        }
        let good = try await token()
        #expect(try await Self.get(api + "/invoices", token: good).status == 200)
        #expect(try await Self.get(api + "/me", token: good).body.contains(#""sub":"billing""#))
        #expect(try await Self.get(api + "/invoices", token: try await token("invoices:write")).status == 403, "scope is checked")

        // Refused: tampered, expired, foreign issuer, an ID token, a token of another key.
        let signer = try #require(try await f.state().keys.signers(for: nil))
        let now = Int64(Date().timeIntervalSince1970)
        let base: JSONObject = ["iss": .string(server.base), "sub": "billing", "aud": "https://api.example.com", "scope": "invoices:read"]
        func signed(_ claims: JSONObject, typ: String = "at+jwt", key: JWSKey? = nil) throws -> String {
            try JWSSigner(key: key ?? signer.key, typ: typ).sign(claims: claims)
        }
        var parts = good.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(Array(#"{"iss":"\#(server.base)","sub":"admin","aud":"https://api.example.com","exp":\#(now + 600),"scope":"invoices:read"}"#.utf8))
        var expired = base; expired["exp"] = .int(now - 600)
        var foreign = base; foreign["iss"] = "https://evil.example.com"; foreign["exp"] = .int(now + 600)
        var fine = base; fine["exp"] = .int(now + 600)
        let otherKey = try JWSKey(evp: try EVPKey.generateRSA(), algorithm: .RS256, kid: "rs-1")
        for (name, t) in [("tampered", parts.joined(separator: ".")), ("expired", try signed(expired)), ("foreign issuer", try signed(foreign)),
                          ("ID token", try signed(fine, typ: "JWT")), ("another key under our kid", try signed(fine, key: otherKey))] {
            let r = try await Self.get(api + "/invoices", token: t)
            #expect(r.status == 401, "\(name): \(r)")
        }
        #expect(try await Self.get(api + "/invoices", token: try signed(fine)).status == 200, "the same claims, properly signed")

        // Staged rotation: rs-2 published as next, then signing; the backend keeps accepting every token.
        try Fixture.write(f.dir, "rs-2.pem", try EVPKey.generateRSA().privateKeyPEM())
        var config = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: f.configPath)))).objectValue!
        let keys = config["keys"]!.arrayValue!
        config["keys"] = .array(keys + [["kid": "rs-2", "alg": "RS256", "private_key_file": "rs-2.pem", "status": "next"]])
        try Data(JSON.serializeString(.object(config)).utf8).write(to: URL(fileURLWithPath: f.configPath))
        kill(server.process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await Self.get(api + "/invoices", token: try await token()).status == 200)
        config["keys"] = .array(keys.map { $0.objectValue?["kid"] == "rs-1" ? ["kid": "rs-1", "alg": "RS256", "private_key_file": "rs.pem", "status": "retiring"] : $0 }
                                + [["kid": "rs-2", "alg": "RS256", "private_key_file": "rs-2.pem"]])
        config["signing_key"] = "rs-2"
        try Data(JSON.serializeString(.object(config)).utf8).write(to: URL(fileURLWithPath: f.configPath))
        kill(server.process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        let rotated = try await token()
        #expect(try JSON.parse(Array(Base64URL.decode(Array(rotated.split(separator: ".")[0].utf8))!)).objectValue?["kid"] == "rs-2")
        #expect(try await Self.get(api + "/invoices", token: rotated).status == 200, "a token of the new key")
        #expect(try await Self.get(api + "/invoices", token: good).status == 200, "a token of the retiring key")
    }

    static func startBackend(issuer: String, arguments: [String] = []) async throws -> (Process, String) {
        let port = unusedLoopbackPort()
        let backend = Process()
        backend.executableURL = URL(fileURLWithPath: WorkerLaunch.siblingExecutable(named: "example-backend"))
        backend.arguments = ["--issuer", issuer, "--audience", "https://api.example.com", "--port", String(port)] + arguments
            .map { $0.replacingOccurrences(of: "PORT", with: String(port)) }
        backend.standardOutput = FileHandle.nullDevice
        backend.standardError = FileHandle.nullDevice
        try backend.run()
        let api = "http://127.0.0.1:\(port)"
        try await EndToEndTests.waitUntilUp(api + "/healthz")
        return (backend, api)
    }

    /// RFC 9449 §7 at the backend: a bound token needs the DPoP scheme and a fresh proof of its key for
    /// this request (htm, htu, ath); a backend that does not check proofs refuses bound tokens.
    @Test func theBackendChecksDPoPBoundTokens() async throws {
        let server = try await EndToEndTests.start(pipelines: [:])
        defer { server.process.terminate(); server.process.waitUntilExit(); server.fixture.cleanUp() }
        let f = server.fixture
        let (checking, api) = try await Self.startBackend(issuer: server.base, arguments: ["--dpop-base-url", "http://127.0.0.1:PORT"])
        defer { kill(checking.processIdentifier, SIGKILL); checking.waitUntilExit() }
        let (refusing, plainAPI) = try await Self.startBackend(issuer: server.base)
        defer { kill(refusing.processIdentifier, SIGKILL); refusing.waitUntilExit() }

        let key = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "holder")
        let other = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "thief")
        let issued = try await EndToEndTests.run("curl", ["-s", "-u", "billing:\(f.billingSecret)", "-d", "grant_type=client_credentials", "-d", "scope=invoices:read",
                                                    "-H", "DPoP: \(try key.dpopProof(htu: server.base + "/oauth/token"))", server.base + "/oauth/token"]).output
        let bound = try #require(try JSON.parse(Array(issued.utf8)).objectValue?["access_token"]?.stringValue, "\(issued)")
        let url = api + "/me"
        func proof(_ k: JWSKey = key, method: String = "GET", htu: String? = nil, token: String? = nil) throws -> String {
            try k.dpopProof(htu: htu ?? url, method: method, accessToken: token ?? bound)
        }
        let reused = try proof()
        #expect(try await Self.get(url, token: bound, scheme: "DPoP", proof: reused).status == 200)
        let refusals: [(String, (status: Int, body: String))] = [
            ("as a bearer token", try await Self.get(url, token: bound)),
            ("as a bearer token with a proof", try await Self.get(url, token: bound, proof: try proof())),
            ("without a proof", try await Self.get(url, token: bound, scheme: "DPoP")),
            ("a replayed proof", try await Self.get(url, token: bound, scheme: "DPoP", proof: reused)),
            ("a proof of another key", try await Self.get(url, token: bound, scheme: "DPoP", proof: try proof(other))),
            ("a proof for another method", try await Self.get(url, token: bound, scheme: "DPoP", proof: try proof(method: "POST"))),
            ("a proof for another URL", try await Self.get(url, token: bound, scheme: "DPoP", proof: try proof(htu: api + "/invoices"))),
            ("a proof for another token", try await Self.get(url, token: bound, scheme: "DPoP", proof: try proof(token: "x.y.z"))),
            ("a backend that does not check proofs", try await Self.get(plainAPI + "/me", token: bound, scheme: "DPoP",
                                                                  proof: try key.dpopProof(htu: plainAPI + "/me", method: "GET", accessToken: bound))),
        ]
        for (name, r) in refusals { #expect(r.status == 401, "\(name): \(r)") }

        let plain = try #require(try JSON.parse(Array(try await EndToEndTests.run("curl", ["-s", "-u", "billing:\(f.billingSecret)", "-d", "grant_type=client_credentials",
                                                                                  server.base + "/oauth/token"]).output.utf8)).objectValue?["access_token"]?.stringValue)
        #expect(try await Self.get(url, token: plain).status == 200, "an unbound token stays a bearer token")
        #expect(try await Self.get(url, token: plain, scheme: "DPoP", proof: try proof(token: plain)).status == 401, "the DPoP scheme is for bound tokens")
    }
}
