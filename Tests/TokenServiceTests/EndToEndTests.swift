import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSONCore
import Pipeline
import Testing
import TestSupport
@testable import TokenService

/// Starts the real `tokenservice` binary on a free loopback port and checks it from outside:
/// tokens verified by PyJWT against the live JWKS, SIGHUP reload, SIGTERM shutdown.
@Suite(.serialized) struct EndToEndTests {
    static let binary = WorkerLaunch.siblingExecutable(named: "tokenservice")
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Server {
        let process: Process
        let base: String
        let fixture: Fixture
    }

    /// The binary serving a fixture's config (changed by `mutate`); its output goes to `log` when given.
    static func start(pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = GatewayMintTests.pipelines,
                      log: URL? = nil, mutate: (inout JSONObject) -> Void = { _ in }) async throws -> Server {
        let port = unusedLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let fixture = try Fixture(issuer: base, pipelines: pipelines) { config in
            config["listen"] = ["host": "127.0.0.1", "port": .int(Int64(port))]
            mutate(&config)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["serve", "--config", fixture.configPath]
        if let log {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            p.standardOutput = handle
            p.standardError = handle
        } else {
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
        }
        try p.run()
        if try await waitUntilUp(base + "/healthz") { return Server(process: p, base: base, fixture: fixture) }
        p.terminate()
        throw CancellationError()
    }

    /// Waits up to 10 s for `url` to answer 200 (a server just started); whether it did.
    @discardableResult
    static func waitUntilUp(_ url: String) async throws -> Bool {
        for _ in 0..<200 {
            if (try? await get(url).status) == 200 { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    static func get(_ url: String) async throws -> (status: Int, body: Data) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// With curl: FoundationNetworking's URLSession can stall on a 401 that carries a Basic challenge.
    static func clientCredentials(_ base: String, id: String, secret: String) async throws -> Int {
        let r = try await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-u", "\(id):\(secret)",
                                 "-d", "grant_type=client_credentials", base + "/oauth/token"])
        return Int(r.output) ?? 0
    }

    /// Runs a program to its end on a thread of its own (`offPool`: checkov, schemathesis, key generation or
    /// curl waited for on a cooperative thread stalled every other test): its exit status and its standard
    /// output and error together. `environment` is added to this process's.
    static func run(_ exe: String, _ args: [String], environment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        try await offPool { try runBlocking(exe, args, environment: environment) }
    }

    private static func runBlocking(_ exe: String, _ args: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [exe] + args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func tokensVerifyWithPyJWTAgainstTheLiveJWKS() async throws {
        let server = try await Self.start()
        defer { server.process.terminate(); server.process.waitUntilExit(); server.fixture.cleanUp() }
        let script = Self.repoRoot.appendingPathComponent("Tests/e2e/verify_tokens.py").path
        let result = try await Self.run("python3", [script, server.base, server.fixture.billingSecret, server.fixture.gatewayToken,
                                              server.fixture.dir.appendingPathComponent("hs.key").path])
        #expect(result.status == 0, "\(result.output)")
        let summary = try JSON.parse(result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(summary.objectValue?["ok"] == true)

        // The CLI verifier agrees with the live JWKS.
        let (_, body) = try await Self.get(server.base + "/.well-known/jwks.json")
        #expect(!body.isEmpty)
    }

    @Test func sighupReloadsAtomicallyAndSigtermDrains() async throws {
        let server = try await Self.start()
        defer { server.fixture.cleanUp() }
        let configURL = URL(fileURLWithPath: server.fixture.configPath)
        let original = try Data(contentsOf: configURL)
        #expect(try await Self.clientCredentials(server.base, id: "fresh", secret: String(repeating: "f", count: 40)) == 401)

        // Add a client and reload.
        var config = try JSON.parse(Array(original)).objectValue!
        var clients = config["clients"]!.arrayValue!
        clients.append(["client_id": "fresh", "client_secret": .string(String(repeating: "f", count: 40)), "grant_types": ["client_credentials"],
                        "scopes": [], "audiences": ["https://api.example.com"]])
        config["clients"] = .array(clients)
        try Data(JSON.serialize(.object(config))).write(to: configURL)
        kill(server.process.processIdentifier, SIGHUP)
        var reloaded = false
        for _ in 0..<100 where !reloaded {
            try await Task.sleep(for: .milliseconds(50))
            reloaded = try await Self.clientCredentials(server.base, id: "fresh", secret: String(repeating: "f", count: 40)) == 200
        }
        #expect(reloaded)

        // A broken config is refused and the running state is kept.
        try Data("{\"issuer\": 1}".utf8).write(to: configURL)
        kill(server.process.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await Self.clientCredentials(server.base, id: "fresh", secret: String(repeating: "f", count: 40)) == 200)

        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0)
    }

    /// A worker stuck in a function never reads the end of its input: when the service is killed, the
    /// worker must still go (it watches its parent), not spin on without it.
    @Test func workersDieWithAKilledService() async throws {
        let server = try await Self.start(pipelines: [
            "pre_access_token": [("spin", "function pipe(u, c, cb) { while (true) {} }", ["timeout_ms": 60_000])],
        ])
        defer { server.fixture.cleanUp() }
        let pid = server.process.processIdentifier
        let stuck = Process()
        stuck.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        stuck.arguments = ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "-u", "billing:\(server.fixture.billingSecret)",
                           "-d", "grant_type=client_credentials", server.base + "/oauth/token"]
        try stuck.run()
        // Stuck: the supervisor has lowered its priority (so under load it may spin slowly).
        var workers: [Int32] = []
        for _ in 0..<100 where !workers.contains(where: { ProcessStat.nice($0) == 19 }) {
            try await Task.sleep(for: .milliseconds(50))
            workers = ProcessStat.children(of: pid)
        }
        #expect(workers.contains { ProcessStat.nice($0) == 19 && ProcessStat.cpuTicks($0) > 0 }, "a worker is stuck in the function")
        kill(pid, SIGKILL)
        server.process.waitUntilExit()
        var alive = workers
        for _ in 0..<20 where !alive.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            alive = alive.filter { kill($0, 0) == 0 && !ProcessStat.isZombie($0) }
        }
        #expect(alive.isEmpty, "workers \(alive) outlived the service")
        for w in alive { kill(w, SIGKILL) }
        stuck.waitUntilExit()
    }

    @Test func cliMintVerifyPipelineTestAndConfigCheck() async throws {
        let f = try Fixture(pipelines: GatewayMintTests.pipelines)
        defer { f.cleanUp() }
        let minted = try await Self.run(Self.binary, ["mint", "--config", f.configPath, "--client", "billing", "--scope", "invoices:read"])
        #expect(minted.status == 0, "\(minted.output)")
        let token = try #require(try JSON.parse(minted.output).objectValue?["access_token"]?.stringValue)

        // Export the public JWKS to a file and verify offline.
        let state = try await f.state()
        let jwksPath = f.dir.appendingPathComponent("jwks.json").path
        try Data(state.keys.jwksJSON).write(to: URL(fileURLWithPath: jwksPath))
        let verified = try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, "--issuer", f.issuer, "--audience", "https://api.example.com", token])
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.output.contains("\"tenant\":\"Billing\""))
        let wrongAud = try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, "--audience", "https://nope", token])
        #expect(wrongAud.status != 0)
        #expect(wrongAud.output.contains("audience"))
        // An ID token is not an access token, unless asked for as one; the leeway is the caller's.
        let userJSON = f.dir.appendingPathComponent("u.json").path
        try Data(#"{"id":"u-1","email":"x@example.com","username":"x","customData":{"dept":"Ops"}}"#.utf8).write(to: URL(fileURLWithPath: userJSON))
        let withID = try await Self.run(Self.binary, ["mint", "--config", f.configPath, "--client", "web-app", "--scope", "openid", "--user", userJSON])
        let response = withID.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
        let idToken = try #require(try JSON.parse(response).objectValue?["id_token"]?.stringValue, "\(withID.output)")
        let asAccess = try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, idToken])
        #expect(asAccess.status != 0 && asAccess.output.contains("at+jwt"), "\(asAccess.output)")
        #expect(try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, "--id-token", "--audience", "web-app", idToken]).status == 0)
        #expect(try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, "--id-token", token]).status != 0)
        let expiredSoon = try state.keys.signers(for: nil)!.accessToken.sign(claims: ["iss": .string(f.issuer), "sub": "x",
                                                                                   "exp": .int(Int64(Date().timeIntervalSince1970) - 100)])
        #expect(try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, expiredSoon]).status != 0)
        #expect(try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, "--leeway", "300", expiredSoon]).status == 0)
        #expect(try await Self.run(Self.binary, ["verify", "--jwks", jwksPath, "--leeway", "999999", expiredSoon]).status != 0)

        let userFile = f.dir.appendingPathComponent("user.json").path
        try Data(#"{"id":"1","email":"x@example.com","username":"x","customData":{"dept":"Ops"}}"#.utf8).write(to: URL(fileURLWithPath: userFile))
        let test = try await Self.run(Self.binary, ["pipeline", "test", "--config", f.configPath, "--trigger", "pre_id_token", "--user", userFile])
        #expect(test.status == 0, "\(test.output)")
        #expect(test.output.contains("\"department\":\"Ops\""))
        #expect(test.output.contains("\"refused\":[\"iss\"]"))

        let checked = try await Self.run(Self.binary, ["config", "check", f.configPath])
        #expect(checked.status == 0, "\(checked.output)")
        let keyFile = f.dir.appendingPathComponent("new.pem").path
        let generated = try await Self.run(Self.binary, ["keys", "generate", "--alg", "ES256", "--out", keyFile])
        #expect(generated.status == 0)
        let attrs = try FileManager.default.attributesOfItem(atPath: keyFile)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
        #expect(try await Self.run(Self.binary, ["keys", "generate", "--alg", "ES256", "--out", keyFile]).status != 0, "never overwrites")
    }
}

/// `pipeline test` shows what GenAuth's "how to debug" needs, async notifiers and outbound calls included.
@Suite struct PipelineTestCommandTests {
    @Test func showsAsyncFunctionsAndOutboundCalls() async throws {
        let sink = try await WebhookSink.start()
        let notifier = """
            async function pipe(user, context, callback) {
              const r = await axios.post(env.HOOK + '/hooks/slack?token=secret-in-query', { text: user.username + ' signed in' });
              log('slack answered', r.status);
              callback(null, user, context);
            }
            """
        let blocked = "async function pipe(user, context, callback) { try { await axios.get('http://example.org/'); } catch (e) { log(e.code); } callback(null, user, context); }"
        let f = try Fixture(pipelines: ["pre_id_token": [
            (name: "dept", source: "function pipe(u, c, cb) { u.addIdToken('department', u.customData.dept); cb(null, u, c); }", extra: [:]),
            (name: "blocked", source: blocked, extra: [:]),
            (name: "notify", source: notifier, extra: ["async": true]),
        ]]) { config in
            config["env"] = ["ALLOWED_DOMAIN": "example.com", "HOOK": .string(sink.base)]
            var p = config["pipelines"]!.objectValue!
            p["http"] = ["allow": .array([.string("127.0.0.1:\(sink.port)")])]
            config["pipelines"] = .object(p)
        }
        defer { f.cleanUp() }
        let userFile = f.dir.appendingPathComponent("user.json").path
        try Data(#"{"id":"1","username":"ada","customData":{"dept":"Ops"}}"#.utf8).write(to: URL(fileURLWithPath: userFile))
        let test = try await EndToEndTests.run(EndToEndTests.binary, ["pipeline", "test", "--config", f.configPath, "--trigger", "pre_id_token", "--user", userFile])
        #expect(test.status == 0, "\(test.output)")
        let out = try #require(try JSON.parse(Array(test.output.utf8)).objectValue)
        #expect(out["claims"] == ["department": "Ops"])
        let http = out["http"]?.arrayValue ?? []
        #expect(http.first?.objectValue?["function"] == "blocked" && http.first?.objectValue?["error"] == "ERR_HOST_NOT_ALLOWED", "\(http)")
        let async = try #require(out["async"]?.objectValue)
        #expect(async["functions"] == [["name": "notify", "outcome": "ok"]], "\(async)")
        let call = try #require(async["http"]?.arrayValue?.first?.objectValue)
        #expect(call["status"] == 200 && call["method"] == "POST")
        #expect(call["url"] == .string("\(sink.base)/hooks/slack"), "no query in the report")
        #expect(async["logs"]?.arrayValue?.first?.objectValue?["message"] == "slack answered 200")
        #expect(!test.output.contains("secret-in-query"))
        #expect(try await sink.received().first?["body"]?.stringValue == #"{"text":"ada signed in"}"#)
    }
}
