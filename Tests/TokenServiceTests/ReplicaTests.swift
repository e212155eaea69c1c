import Foundation
import JOSE
import JSONCore
import Testing
import TestSupport
@testable import TokenService

/// Two replicas of the real binary on one real Redis: they agree on one-time `jti`s and abuse counters;
/// with Redis down, one-time checks fail closed, everything else serves, and /healthz says so.
@Suite(.serialized) struct ReplicaTests {
    struct Replicas {
        let fixture: Fixture
        let a: String, b: String
        let processes: [Process]
        func stop() {
            for p in processes { p.terminate(); p.waitUntilExit() }
            fixture.cleanUp()
        }
    }

    static func start(redis: RedisServer) async throws -> Replicas {
        let (portA, portB) = (unusedLoopbackPort(), unusedLoopbackPort())
        let f = try Fixture(issuer: "http://127.0.0.1:\(portA)") { config in
            config["shared_state"] = ["redis": ["url": .string(redis.url), "prefix": "replicas:"]]
            config["limits"] = ["failed_auth_per_minute": ["client": 4, "address": 1000]]
        }
        var processes: [Process] = []
        for port in [portA, portB] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: EndToEndTests.binary)
            p.arguments = ["serve", "--config", f.configPath, "--port", String(port)]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            processes.append(p)
        }
        let r = Replicas(fixture: f, a: "http://127.0.0.1:\(portA)", b: "http://127.0.0.1:\(portB)", processes: processes)
        for base in [r.a, r.b] where !(try await EndToEndTests.waitUntilUp(base + "/healthz")) {
            r.stop()
            throw CancellationError()
        }
        return r
    }

    static func post(_ url: String, _ form: [String], user: String? = nil) async throws -> (status: Int, body: JSONObject) {
        var args = ["-s", "-w", "\n%{http_code}", "--max-time", "10"]
        if let user { args += ["-u", user] }
        for field in form { args += ["--data-urlencode", field] }
        let out = try await EndToEndTests.run("curl", args + [url]).output
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let body = (try? JSON.parse(Array(lines.dropLast().joined(separator: "\n").utf8)).objectValue) ?? [:]
        return (Int(lines.last ?? "") ?? 0, body)
    }

    @Test func replicasShareOneTimeMemoryAndCountersAndFailClosedWithoutRedis() async throws {
        let redis = try await RedisServer.start()
        let r = try await Self.start(redis: redis)
        defer { r.stop() }
        let tokenEndpoint = r.a + "/oauth/token"  // the issuer's: the same audience on both replicas
        let type = "client_assertion_type=" + ClientAuthenticator.assertionType

        // An assertion used on replica A is refused on replica B.
        let a1 = try r.fixture.batchAssertion(audience: tokenEndpoint)
        #expect(try await Self.post(r.a + "/oauth/token", ["grant_type=client_credentials", type, "client_assertion=" + a1]).status == 200)
        let replay = try await Self.post(r.b + "/oauth/token", ["grant_type=client_credentials", type, "client_assertion=" + a1])
        #expect(replay.status == 401 && replay.body["error"] == "invalid_client", "replayed on the other replica: \(replay)")

        // Failed authentications add up across replicas (limit 4 per client per minute).
        for base in [r.a, r.b, r.a, r.b] {
            #expect(try await Self.post(base + "/oauth/token", ["grant_type=client_credentials"], user: "billing:wrong").status == 401)
        }
        let throttled = try await Self.post(r.a + "/oauth/token", ["grant_type=client_credentials"], user: "billing:" + r.fixture.billingSecret)
        #expect(throttled.status == 429 && throttled.body["error"] == "too_many_requests")

        // Redis down: one-time checks fail closed, the rest serves, /healthz says so.
        redis.stop()
        let down = try await Self.post(r.b + "/oauth/token", ["grant_type=client_credentials", type,
                                                         "client_assertion=" + (try r.fixture.batchAssertion(audience: tokenEndpoint))])
        #expect(down.status == 503 && down.body["error"] == "temporarily_unavailable", "\(down)")
        #expect(try await Self.post(r.b + "/oauth/token", ["grant_type=client_credentials"], user: "es-client:" + r.fixture.billingSecret).status == 200,
                "counters fail open: secrets still work")
        let health = try await EndToEndTests.get(r.b + "/healthz")
        let healthBody = try JSON.parse(Array(health.body)).objectValue
        #expect(health.status == 200 && healthBody?["status"] == "degraded" && healthBody?["shared_state"] != nil)

        // Redis back: service resumes.
        try await redis.restart()
        try await Task.sleep(for: .milliseconds(700))
        let back = try await Self.post(r.b + "/oauth/token", ["grant_type=client_credentials", type,
                                                         "client_assertion=" + (try r.fixture.batchAssertion(audience: tokenEndpoint))])
        #expect(back.status == 200, "\(back)")
        #expect(try JSON.parse(Array(try await EndToEndTests.get(r.a + "/healthz").body)).objectValue?["status"] == "ok")
    }
}

/// The contract's staged rotation (next → active → retiring → removed), by SIGHUP, under load: no request
/// fails and a backend with a cached JWKS never meets an unknown kid.
@Suite(.serialized) struct KeyRotationTests {
    @Test func stagedRotationUnderLoad() async throws {
        let server = try await EndToEndTests.start(pipelines: [:])
        defer { server.process.terminate(); server.process.waitUntilExit(); server.fixture.cleanUp() }
        let f = server.fixture
        try Fixture.write(f.dir, "rs-2.pem", try EVPKey.generateRSA().privateKeyPEM())
        let original = try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: f.configPath)))).objectValue!
        func reload(_ edit: (inout JSONObject) -> Void) throws {
            var config = original
            edit(&config)
            try Data(JSON.serializeString(.object(config)).utf8).write(to: URL(fileURLWithPath: f.configPath))
            kill(server.process.processIdentifier, SIGHUP)
        }
        let cache = 1.0
        let script = EndToEndTests.repoRoot.appendingPathComponent("Tests/e2e/rotation_verifier.py").path
        let stop = f.dir.appendingPathComponent("stop").path
        async let load = EndToEndTests.run("python3", [script, server.base, "billing", f.billingSecret, stop, String(cache)])
        let keys = original["keys"]!.arrayValue!
        func key(_ kid: String, _ file: String, _ status: String) -> JSONValue {
            ["kid": .string(kid), "alg": "RS256", "private_key_file": .string(file), "status": .string(status)]
        }
        /// Waits (on a loaded machine too) until the reload shows in the JWKS.
        func published() async throws -> Set<String> {
            let jwks = try JSON.parse(Array(try await EndToEndTests.get(server.base + "/.well-known/jwks.json").body)).objectValue
            return Set(jwks?["keys"]?.arrayValue?.compactMap { $0.objectValue?["kid"]?.stringValue } ?? [])
        }
        func until(_ done: (Set<String>) -> Bool) async throws {
            for _ in 0..<100 where !done(try await published()) { try await Task.sleep(for: .milliseconds(50)) }
            #expect(done(try await published()), "the reload took effect")
        }
        try await Task.sleep(for: .seconds(1))
        // 1. publish rs-2 ahead of use.
        try reload { $0["keys"] = .array(keys + [key("rs-2", "rs-2.pem", "next")]) }
        try await until { $0.contains("rs-2") }
        try await Task.sleep(for: .seconds(2 * cache))
        // 2. after the verifiers' cache time: rs-2 signs, rs-1 retires.
        let retired = keys.map { k -> JSONValue in k.objectValue?["kid"] == "rs-1" ? key("rs-1", "rs.pem", "retiring") : k }
        try reload {
            $0["keys"] = .array(retired + [key("rs-2", "rs-2.pem", "active")])
            $0["signing_key"] = "rs-2"
        }
        for _ in 0..<100 {
            let t = try await EndToEndTests.run("curl", ["-s", "-u", "billing:\(f.billingSecret)", "-d", "grant_type=client_credentials", server.base + "/oauth/token"])
            if t.output.contains("access_token"), let token = try JSON.parse(Array(t.output.utf8)).objectValue?["access_token"]?.stringValue,
               let header = Base64URL.decode(Array(token.split(separator: ".")[0].utf8)), String(decoding: header, as: UTF8.self).contains("rs-2") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .seconds(2 * cache))
        // 3. after the longest lifetime of what the backend holds: rs-1 goes.
        try reload {
            $0["keys"] = .array(keys.filter { $0.objectValue?["kid"] != "rs-1" } + [key("rs-2", "rs-2.pem", "active")])
            $0["signing_key"] = "rs-2"
        }
        try await until { !$0.contains("rs-1") }
        try await Task.sleep(for: .seconds(cache))
        FileManager.default.createFile(atPath: stop, contents: nil)
        let result = try await load
        let out = try JSON.parse(Array(result.output.utf8)).objectValue ?? [:]
        #expect(out["failures"] == 0, "\(result.output)")
        #expect(out["unknown_kid"] == 0, "\(result.output)")
        #expect((out["tokens"]?.intValue ?? 0) > 50, "\(result.output)")
        #expect(out["kids"] == ["rs-1", "rs-2"], "\(result.output)")
        let jwks = try JSON.parse(Array(try await EndToEndTests.get(server.base + "/.well-known/jwks.json").body)).objectValue
        #expect(jwks?["keys"]?.arrayValue?.contains { $0.objectValue?["kid"] == "rs-1" } == false)
    }
}
