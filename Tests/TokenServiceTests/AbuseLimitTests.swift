import Foundation
import HTTPTypes
import NIOCore
import JSONCore
import Logging
import Testing
import TestSupport
@testable import TokenService

/// Brute force is throttled per client_id and per address, quotas per client; counters stay bounded.
/// Live server (real sockets): the source address is the peer's.
@Suite struct AbuseLimitTests {
    static func live(mutate: @escaping (inout JSONObject) -> Void,
                     _ body: @escaping @Sendable (Fixture, any TestClientProtocol, ServiceCore) async throws -> Void) async throws {
        let f = try Fixture(mutate: mutate)
        defer { f.cleanUp() }
        let (app, core, engine) = try await f.application()
        defer { engine.shutdown() }
        try await app.test { client in try await body(f, client, core) }
    }

    static func token(_ client: some TestClientProtocol, id: String, secret: String) async throws -> (HTTPResponse.Status, JSONObject, String?) {
        try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic(id, secret),
                                 body: Form.encode([("grant_type", "client_credentials")])) { ($0.status, $0.json, $0.headers[.retryAfter]) }
    }

    @Test func failedAuthenticationIsThrottledPerClientThenPerAddress() async throws {
        try await Self.live(mutate: { $0["limits"] = ["failed_auth_per_minute": ["client": 5, "address": 12]] }) { f, client, core in
            for _ in 0..<5 {
                #expect(try await Self.token(client, id: "billing", secret: "wrong-secret").0 == .unauthorized)
            }
            let (status, body, retry) = try await Self.token(client, id: "billing", secret: f.billingSecret)
            #expect(status == .tooManyRequests, "even the right secret waits for the window")
            #expect(body["error"] == "too_many_requests")
            #expect(Int(retry ?? "") .map { (1...60).contains($0) } == true, "Retry-After: \(retry ?? "none")")
            #expect(try await Self.token(client, id: "es-client", secret: f.billingSecret).0 == .ok, "other clients are unaffected")
            // Unknown client ids count like known ones, and for the address: 5 so far, 7 more.
            for n in 0..<7 { #expect(try await Self.token(client, id: "nobody-\(n)", secret: "x").0 == .unauthorized) }
            let fromAddress = try await Self.token(client, id: "es-client", secret: f.billingSecret)
            #expect(fromAddress.0 == .tooManyRequests, "the address is over its limit now")
            let metrics = try await client.execute(uri: "/metrics", method: .get) { String(buffer: $0.body) }
            #expect(metrics.contains(#"tokenservice_throttled_requests_total{reason="client"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"tokenservice_throttled_requests_total{reason="address"} 1"#))
        }
    }

    static func guardrails(shared: any SharedState = InProcessState()) -> AbuseLimits {
        AbuseLimits(shared: shared, local: InProcessState(), metrics: ServiceMetrics(), scope: .offline(Logger(label: "test")))
    }
    static let strict: ServiceConfig.Limits = {
        var l = ServiceConfig.Limits()
        l.failedAuthPerClient = 3
        l.failedAuthPerAddress = 50
        return l
    }()

    /// Failures from one address throttle that (client, address) pair, never the client elsewhere.
    @Test func aStrangerCannotLockAClientOutFromAnotherAddress() async throws {
        let limits = Self.guardrails()
        for _ in 0..<10 { await limits.recordFailure(clientID: "billing", address: "203.0.113.9", now: 1000) }
        await #expect(throws: TokenError.self) { try await limits.admit(clientID: "billing", address: "203.0.113.9", limits: Self.strict, now: 1000) }
        try await limits.admit(clientID: "billing", address: "198.51.100.7", limits: Self.strict, now: 1000)
        try await limits.admit(clientID: "reports", address: "203.0.113.9", limits: Self.strict, now: 1000)
        // Keys cannot run into each other however client_ids are spelt.
        #expect(AbuseLimits.failedKey(client: "a:b", address: "c") != AbuseLimits.failedKey(client: "a", address: "b:c"))
        #expect(SharedStateKey.make("assertion", "a:b", "c") != SharedStateKey.make("assertion", "a", "b:c"), "one-time keys too")
    }

    /// Redis down: the replica counts alone instead of not counting.
    @Test func unreachableSharedStateFallsBackToThisReplicasCounters() async throws {
        let unreachable = try RedisState(settings: try #require(RedisSettings(url: "redis://127.0.0.1:1/0", prefix: "t:", password: nil)))
        let limits = Self.guardrails(shared: unreachable)
        for _ in 0..<3 { await limits.recordFailure(clientID: "billing", address: "203.0.113.9", now: 1000) }
        await #expect(throws: TokenError.self) { try await limits.admit(clientID: "billing", address: "203.0.113.9", limits: Self.strict, now: 1000) }
    }

    @Test func theQuotaAppliesToGatewayMintsToo() async throws {
        try await Fixture.withRouterClient(mutate: { config in
            var clients = config["clients"]?.arrayValue ?? []
            for i in clients.indices where clients[i].objectValue?["client_id"] == "web-app" {
                var web = clients[i].objectValue ?? [:]
                web["rate_limit"] = ["tokens_per_minute": 2]
                clients[i] = .object(web)
            }
            config["clients"] = .array(clients)
        }) { f, client, _ in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<3 {
                statuses.append(try await client.execute(uri: "/v1/tokens", method: .post,
                                                         headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                                         body: .init(string: #"{"client_id":"web-app","grant_type":"password","user":{"id":"u"}}"#)) { $0.status })
            }
            #expect(statuses == [.ok, .ok, .tooManyRequests])
        }
    }

    @Test func aClientsTokenQuota() async throws {
        try await Self.live(mutate: { config in
            config.addClient(["client_id": "metered", "client_secret": "billing-secret-0123456789abcdef0123", "grant_types": ["client_credentials"],
                              "audiences": ["https://api.example.com"], "rate_limit": ["tokens_per_minute": 3]])
        }) { f, client, core in
            for _ in 0..<3 { #expect(try await Self.token(client, id: "metered", secret: f.billingSecret).0 == .ok) }
            let (status, body, retry) = try await Self.token(client, id: "metered", secret: f.billingSecret)
            #expect(status == .tooManyRequests && body["error"] == "too_many_requests" && retry != nil)
            #expect(try await Self.token(client, id: "billing", secret: f.billingSecret).0 == .ok)
        }
    }

    @Test func countersAndOneTimeMemoryStayBounded() async throws {
        let state = InProcessState(capacity: 100)
        for n in 0..<1000 { _ = try await state.increment("k\(n)", window: 60, now: 1000 + Int64(n / 100)) }
        #expect(state.sizes.counters <= 100)
        #expect(try await state.increment("k999", window: 60, now: 1010).count == 2, "the newest windows are kept and keep counting")
        #expect(try await state.peek("k0", now: 1010) == .zero, "the oldest windows went first")
        #expect(try await state.increment("fresh", window: 60, now: 1000).count == 1, "a new key past the bound evicts the oldest windows")
        #expect(try await state.increment("fresh", window: 60, now: 1000).count == 2, "and keeps counting")
        #expect(state.sizes.counters <= 100)
        for n in 0..<100 { #expect(try await state.claimOnce("j\(n)", expiresAt: 2000, now: 1000)) }
        await #expect(throws: SharedStateError.self) { _ = try await state.claimOnce("one-more", expiresAt: 2000, now: 1000) }
        #expect(try await state.claimOnce("late", expiresAt: 5000, now: 3000), "expired entries make room")
        #expect(state.sizes.once <= 100)
    }

    @Test func aNextKeyIsPublishedAndNeverSigns() async throws {
        try await Fixture.withRouterClient(mutate: { config in
            config["keys"] = .array((config["keys"]?.arrayValue ?? []) + [["kid": "es-next", "alg": "ES256", "private_key_file": "es.pem", "status": "next"]])
        }) { f, client, core in
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { $0.json }
            #expect(jwks["keys"]?.arrayValue?.contains { $0.objectValue?["kid"] == "es-next" } == true)
            for id in ["billing", "es-client"] {
                let body = try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic(id, f.billingSecret),
                                                    body: Form.encode([("grant_type", "client_credentials")])) { $0.json }
                let v = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
                #expect(v.header["kid"] != "es-next")
            }
        }
        let f = try Fixture { config in
            config["keys"] = .array((config["keys"]?.arrayValue ?? []) + [["kid": "es-next", "alg": "ES256", "private_key_file": "es.pem", "status": "next"]])
            config["signing_key"] = "es-next"
        }
        defer { f.cleanUp() }
        await #expect(throws: ConfigError.self) { _ = try await f.state() }
    }
}

/// The Redis shared state against a real redis-server.
@Suite(.serialized) struct RedisStateTests {
    @Test func oneTimeKeysAndCountersAreSharedAndAtomic() async throws {
        let redis = try await RedisServer.start()
        let settings = try #require(RedisSettings(url: redis.url, prefix: "t:", password: nil))
        // 10 s deadlines, not the service's 1 s and 500 ms: what is checked is sharing and atomicity, which
        // a first test pass loading both cores must not turn into a deadline miss.
        let a = try RedisState(settings: settings, connectTimeout: .seconds(10), commandTimeout: .seconds(10))
        let b = try RedisState(settings: settings, connectTimeout: .seconds(10), commandTimeout: .seconds(10))
        #expect(try await a.claimOnce("jti-1", expiresAt: 2000, now: 1000))
        #expect(try await !b.claimOnce("jti-1", expiresAt: 2000, now: 1000), "the other replica sees it")
        let ttl = Int(try redis.cli(["PTTL", "t:jti-1"])) ?? 0
        // 1000 s from `expiresAt - now`, less the time since (generous: the suite runs beside the others).
        #expect(ttl > 900_000 && ttl <= 1_000_000, "\(ttl)")
        // Two replicas counting at once, 100 each: no lost update.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for replica in [a, b] { group.addTask { for _ in 0..<100 { _ = try await replica.increment("c", window: 60, now: 0) } } }
            try await group.waitForAll()
        }
        let count = try await a.peek("c", now: 0)
        #expect(count.count == 200 && (1...60).contains(count.resetIn), "\(count)")
        #expect(await a.problem() == nil)
        redis.stop()
        await #expect(throws: SharedStateError.self) { _ = try await a.claimOnce("jti-2", expiresAt: 2000, now: 1000) }
        #expect(await a.problem() != nil)
        try await redis.restart()
        try await Task.sleep(for: .milliseconds(600))  // past the reconnect back-off
        #expect(try await a.claimOnce("jti-2", expiresAt: 2000, now: 1000), "service resumes when Redis returns")
    }

    @Test(arguments: [
        ("redis://127.0.0.1:6380/2", "127.0.0.1", 6380, 2, nil as String?),
        ("redis://:s3cret@cache.internal", "cache.internal", 6379, 0, "s3cret"),
        ("redis://user:pw@[::1]:7000/1", "::1", 7000, 1, "pw"),
    ])
    func settingsFromURLs(url: String, host: String, port: Int, db: Int, password: String?) throws {
        let s = try #require(RedisSettings(url: url, prefix: "p:", password: nil))
        #expect(s.host == host && s.port == port && s.database == db && s.password.map { String(decoding: $0, as: UTF8.self) } == password)
    }
}
