import Foundation
import HTTPTypes
import NIOCore
import NIOPosix
import JOSE
import JSONCore
import Logging
import Pipeline
import TestSupport
@testable import TokenService

/// A configuration in a fresh temporary directory, with generated keys.
struct Fixture {
    let dir: URL
    let issuer: String
    let gatewayToken = "gateway-token-0123456789abcdef"
    let billingSecret = "billing-secret-0123456789abcdef0123"
    let webSecret = "web-secret-0123456789abcdef0123456789"
    /// The EC key the private_key_jwt client "batch" signs assertions with.
    let batchKey: JWSKey

    init(issuer: String = "http://127.0.0.1:9999", pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = [:],
         mutate: (inout JSONObject) -> Void = { _ in }) throws {
        self.issuer = issuer
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tokenservice-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("pipelines"), withIntermediateDirectories: true)
        try Self.write(dir, "rs.pem", try EVPKey.generateRSA().privateKeyPEM())
        try Self.write(dir, "old.pem", try EVPKey.generateRSA().privateKeyPEM())
        try Self.write(dir, "es.pem", try EVPKey.generateEC(curve: "P-256").privateKeyPEM())
        try Self.write(dir, "hs.key", Base64URL.encode(secureRandomBytes(48)))
        batchKey = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "batch-1")

        var pipelineConfig = JSONObject()
        for (trigger, fns) in pipelines {
            var list: [JSONValue] = []
            for fn in fns {
                try Self.write(dir, "pipelines/\(fn.name).js", fn.source)
                var o: JSONObject = ["name": .string(fn.name), "file": .string("pipelines/\(fn.name).js")]
                for (k, v) in fn.extra { o[k] = v }
                list.append(.object(o))
            }
            pipelineConfig[trigger] = .array(list)
        }
        var config: JSONObject = [
            "issuer": .string(issuer),
            "keys": [
                ["kid": "rs-1", "alg": "RS256", "private_key_file": "rs.pem"],
                ["kid": "rs-0", "alg": "RS256", "private_key_file": "old.pem", "status": "retiring"],
                ["kid": "es-1", "alg": "ES256", "private_key_file": "es.pem"],
                ["kid": "hs-1", "alg": "HS256", "secret": ["file": "hs.key"]],
            ],
            "signing_key": "rs-1",
            "gateways": [["name": "edge", "token": .string(gatewayToken)]],
            "clients": [
                ["client_id": "billing", "name": "Billing", "client_secret": .string(billingSecret), "grant_types": ["client_credentials"],
                 "scopes": ["invoices:read", "invoices:write"], "audiences": ["https://api.example.com", "https://other.example.com"]],
                ["client_id": "hs-client", "client_secret": .string(billingSecret), "token_endpoint_auth_methods": ["client_secret_post"],
                 "grant_types": ["client_credentials"], "scopes": ["a"], "audiences": ["https://api.example.com"], "signing_key": "hs-1",
                 "access_token_ttl": 60],
                ["client_id": "es-client", "client_secret": .string(billingSecret), "grant_types": ["client_credentials"],
                 "scopes": ["a"], "audiences": ["https://api.example.com"], "signing_key": "es-1"],
                ["client_id": "web-app", "client_secret_sha256": .string(try Digest.hash(.sha256, Array(webSecret.utf8)).map { String(format: "%02x", $0) }.joined()),
                 "grant_types": ["authorization_code", "implicit", "password", "refresh_token"],
                 "scopes": ["openid", "profile", "email", "phone", "address", "invoices:read"], "audiences": ["https://api.example.com"]],
                ["client_id": "batch", "jwks": batchKey.publicJWKS, "token_endpoint_auth_methods": ["private_key_jwt"],
                 "grant_types": ["client_credentials"], "scopes": ["reports:read"], "audiences": ["https://api.example.com"]],
            ],
            "env": ["ALLOWED_DOMAIN": "example.com"],
            "pipelines": .object(pipelineConfig),
        ]
        mutate(&config)
        try Self.write(dir, "config.json", JSON.serializeString(.object(config)))
    }

    var configPath: String { dir.appendingPathComponent("config.json").path }

    static func write(_ dir: URL, _ name: String, _ contents: String) throws {
        let url = dir.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        chmod(url.path, 0o600)
    }

    func engine() -> PipelineEngine {
        ignoreSIGPIPE()
        return PipelineEngine.forThisExecutable(logger: Logger(label: "test"), runtime: .init(), executable: WorkerLaunch.siblingExecutable(named: "tokenservice"))
    }

    func state(engine: PipelineEngine? = nil) async throws -> ServiceState {
        try await ServiceState.load(path: configPath, engine: engine ?? self.engine(), environment: [:])
    }

    /// The application from the composition root, with a fixed clock when `now` is given.
    func application(now: Int64? = nil, logger: Logger = Logger(label: "test")) async throws -> (TestApp, ServiceCore, PipelineEngine) {
        // Its own event loop: apps of suites running side by side do not wait on each other's work.
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var dependencies = AppDependencies(engine: engine(), environment: [:], eventLoopGroup: loops)
        if let now { dependencies.now = { now } }
        let (listening, announce) = AsyncStream<SocketAddress>.makeStream()
        let built = try await buildApplication(configuration: .init(configPath: configPath, host: "127.0.0.1", port: 0, logger: logger,
                                                                    onListening: { _, address in announce.yield(address) }),
                                               dependencies: dependencies)
        return (TestApp(built: built, listening: listening, loops: loops), built.core, built.engine)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: dir) }

    /// A private_key_jwt assertion of the client "batch" for `audience`, valid for two minutes.
    func batchAssertion(audience: String, jti: String = UUID().uuidString) throws -> String {
        let now = Int64(Date().timeIntervalSince1970)
        return try JWSSigner(key: batchKey, typ: "JWT").sign(claims: ["iss": "batch", "sub": "batch", "aud": .string(audience),
                                                                       "exp": .int(now + 120), "jti": .string(jti)])
    }

    /// A fixture, a client of its application's listener, and its service core;
    /// pipeline workers and files are cleaned up afterwards.
    static func withRouterClient(pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = [:],
                                 mutate: (inout JSONObject) -> Void = { _ in },
                                 _ body: @escaping @Sendable (Fixture, any TestClientProtocol, ServiceCore) async throws -> Void) async throws {
        let f = try Fixture(pipelines: pipelines, mutate: mutate)
        defer { f.cleanUp() }
        let (app, core, engine) = try await f.application()
        defer { engine.shutdown() }
        try await app.test { client in try await body(f, client, core) }
    }
}

extension JSONObject {
    /// Appends a client to a fixture config.
    mutating func addClient(_ client: JSONObject) {
        self["clients"] = .array((self["clients"]?.arrayValue ?? []) + [.object(client)])
    }
}

extension JWSKey {
    var publicJWKS: JSONValue { JWKS(keys: publicJWK.map { [$0] } ?? []).json }
}

extension TestResponse {
    var json: JSONObject { (try? JSON.parse(Array(body.readableBytesView)).objectValue) ?? [:] }
}

enum Form {
    static func encode(_ pairs: [(String, String)]) -> ByteBuffer {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let text = pairs.map { "\($0.0.addingPercentEncoding(withAllowedCharacters: allowed)!)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
            .joined(separator: "&")
        return ByteBuffer(string: text)
    }
    static let headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        var h = headers
        h[.authorization] = "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString()
        return h
    }
}

extension JWSKey {
    /// A compact JWS with a header of the test's choosing (DPoP proofs with `jwk`, hostile values).
    func compact(header: JSONObject, claims: JSONObject) throws -> String {
        let input = Base64URL.encode(JSON.serialize(.object(header))) + "." + Base64URL.encode(JSON.serialize(.object(claims)))
        return input + "." + Base64URL.encode(try sign(Array(input.utf8)))
    }

    /// A DPoP proof (RFC 9449 §4.2) for `POST htu` made with this key.
    func dpopProof(htu: String, method: String = "POST", iat: JSONValue = .int(Int64(Date().timeIntervalSince1970)), jti: String = UUID().uuidString,
                   accessToken: String? = nil) throws -> String {
        guard let jwk = publicJWK else { throw JOSEError.invalidKey("a DPoP proof needs a public key") }
        var claims: JSONObject = ["jti": .string(jti), "htm": .string(method), "htu": .string(htu), "iat": iat]
        if let accessToken { claims["ath"] = .string(Base64URL.encode(try Digest.hash(.sha256, Array(accessToken.utf8)))) }
        return try compact(header: ["typ": "dpop+jwt", "alg": .string(algorithm.rawValue), "jwk": jwk.json], claims: claims)
    }
}
