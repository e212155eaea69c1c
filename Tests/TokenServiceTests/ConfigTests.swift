import Foundation
import JOSE
import JSONCore
import Logging
import Pipeline
import Testing
import TestSupport
@testable import TokenService

@Suite struct ConfigTests {
    @Test func everyProblemIsListed() async throws {
        let f = try Fixture { config in
            config["issuer"] = "ftp://nope/"
            config["colour"] = "blue"
            var keys = config["keys"]!.arrayValue!
            keys.append(["kid": "short", "alg": "HS256", "secret": "too-short"])
            keys.append(["kid": "weird", "alg": "none", "secret": "x"])
            config["keys"] = .array(keys)
            config["signing_key"] = "rs-0"
            var clients = config["clients"]!.arrayValue!
            clients.append(["client_id": "bad", "client_secret": "short", "grant_types": ["client_credentials", "magic"], "audiences": []])
            config["clients"] = .array(clients)
        }
        defer { f.cleanUp() }
        do {
            _ = try await f.state()
            Issue.record("the config must not load")
        } catch let error as ConfigError {
            let all = error.problems.joined(separator: "\n")
            for expected in ["$.issuer", "unknown key \"colour\"", "unsupported algorithm none", "retiring", "client_secret: must be at least 32 bytes",
                             "unknown grant type magic", "audiences"] {
                #expect(all.contains(expected), "missing: \(expected)\n\(all)")
            }
            #expect(!all.contains("too-short"), "secrets never appear in errors")
        }
    }

    /// The problems of the fixture config with `keys` added and `readableFile` opened to group and others.
    static func problems(adding keys: [JSONValue], readableFile: String) async throws -> String {
        let f = try Fixture { config in config["keys"] = .array((config["keys"]?.arrayValue ?? []) + keys) }
        defer { f.cleanUp() }
        chmod(f.dir.appendingPathComponent(readableFile).path, 0o644)
        do {
            _ = try await f.state()
            Issue.record("the config must not load")
            return ""
        } catch let error as ConfigError {
            return error.problems.joined(separator: "\n")
        }
    }

    @Test func shortHMACSecretAndReadableKeyFileAreRefused() async throws {
        let all = try await Self.problems(adding: [["kid": "short", "alg": "HS256", "secret": "abcdefghijklmnopqrstuvwxyzABCDE"]], readableFile: "rs.pem")
        #expect(all.contains("at least 32 bytes"))
        #expect(all.contains("readable by group or others"))
    }

    /// HMAC secrets in files are private like key files, and guessable ones are refused.
    @Test func hmacSecretFilesArePrivateAndNotGuessable() async throws {
        let all = try await Self.problems(adding: [["kid": "same", "alg": "HS256", "secret": .string(String(repeating: "a", count: 48))],
                                                   ["kid": "word", "alg": "HS256", "secret": .string(String(repeating: "secret", count: 8))]],
                                          readableFile: "hs.key")
        #expect(all.contains("$.keys[3].secret") && all.contains("readable by group or others"), "\(all)")
        #expect(all.contains("$.keys[4].secret: has too little entropy") && all.contains("$.keys[5].secret: has too little entropy"), "\(all)")
        #expect(!all.contains("aaaa") && !all.contains("secretsecret"), "a problem never echoes the secret")
        for _ in 0..<200 {
            let random = secureRandomBytes(32)
            #expect(ConfigLoader.looksRandom(random) && ConfigLoader.looksRandom(Array(Base64URL.encode(random).utf8)))
            #expect(ConfigLoader.looksRandom(Array(random.map { String(format: "%02x", $0) }.joined().utf8)), "openssl rand -hex 32")
        }
        for guessable in [String(repeating: "0123456789abcdef", count: 4), "password" + String(repeating: "1", count: 40)] {
            #expect(!ConfigLoader.looksRandom(Array(guessable.utf8)), "\(guessable)")
        }
    }

    @Test func secretsFromEnvironmentAndFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("file-secret-0123456789abcdef0123456789\n".utf8).write(to: dir.appendingPathComponent("s.txt"))
        var r = ConfigReader(baseDirectory: dir.path, environment: ["GW": "env-secret-value"])
        #expect(r.secret(["env": "GW"], "$.x") == Array("env-secret-value".utf8))
        #expect(r.secret(["file": "s.txt"], "$.x") == Array("file-secret-0123456789abcdef0123456789".utf8))
        #expect(r.secret(["env": "MISSING"], "$.x") == nil)
        #expect(r.secret(["other": "x"], "$.x") == nil)
        #expect(r.problems.count == 2)
    }

    /// config/dev.json (what `make run` serves) loads completely — keys, clients and both example
    /// pipelines — given keys like the ones `make run` generates.
    @Test func theShippedDevConfigIsValid() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("devcfg-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("keys"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: root.appendingPathComponent("config"), to: dir.appendingPathComponent("config"))
        try Fixture.write(dir, "keys/rs256.pem", try EVPKey.generateRSA().privateKeyPEM())
        try Fixture.write(dir, "keys/es256.pem", try EVPKey.generateEC(curve: "P-256").privateKeyPEM())
        try Fixture.write(dir, "keys/ed25519.pem", try EVPKey.generateEd25519().privateKeyPEM())
        try Fixture.write(dir, "keys/hs256.key", Base64URL.encode(secureRandomBytes(48)))
        ignoreSIGPIPE()
        let engine = PipelineEngine.forThisExecutable(logger: Logger(label: "test"), runtime: .init(), executable: WorkerLaunch.siblingExecutable(named: "tokenservice"))
        defer { engine.shutdown() }
        let state = try await ServiceState.load(path: dir.appendingPathComponent("config/dev.json").path, engine: engine, environment: [:])
        #expect(state.config.clients.map(\.clientID) == ["billing", "reports", "web-app", "api-gateway"])
        #expect(state.pipelines.count == 3)
        #expect(state.canSign)
    }
}

@Suite struct OutboundConfigTests {
    static let cases: [(JSONObject, String?)] = [
        (["allow": ["hooks.example.com", "127.0.0.1:9000", "[::1]:8080"]], nil),
        (["allow": ["http://hooks.example.com"]], "is not a host or host:port"),
        (["allow": ["user@hooks.example.com"]], "is not a host or host:port"),
        (["allow": ["hooks.example.com:99999"]], "is not a host or host:port"),
        (["allow": [], "max_response_bytes": 0], "max_response_bytes"),
        (["allow": [], "max_requests_per_call": -1], "max_requests_per_call"),
        (["allow": [], "follow_redirects": true], "unknown key \"follow_redirects\""),
    ]

    @Test(arguments: cases)
    func pipelinesHTTPIsChecked(http: JSONObject, problem: String?) async throws {
        let f = try Fixture { $0["pipelines"] = ["http": .object(http)] }
        defer { f.cleanUp() }
        do {
            let state = try await f.state()
            #expect(problem == nil)
            #expect(state.config.pipelineHTTP.allow.map(\.description) == ["hooks.example.com", "127.0.0.1:9000", "::1:8080"])
            #expect(state.config.pipelineHTTP.maxResponseBytes == 1024 * 1024 && state.config.pipelineHTTP.maxRequestsPerCall == 10)
        } catch let error as ConfigError {
            #expect(problem.map { p in error.problems.contains { $0.contains(p) } } == true, "\(error.problems)")
        }
    }
}

/// A mistake is reported once, where it is, with a suggestion for a misspelt key.
@Suite struct ConfigMistakeTests {
    enum Mistake: String, CaseIterable, Sendable {
        case wrongAlg, misspeltListenKey, misspeltTopLevelKey, unknownKeyNothingClose

        func apply(_ c: inout JSONObject) {
            switch self {
            case .wrongAlg:
                var keys = c["keys"]?.arrayValue ?? []
                var first = keys[0].objectValue ?? [:]
                first["alg"] = "RS265"
                keys[0] = .object(first)
                c["keys"] = .array(keys)
            case .misspeltListenKey: c["listen"] = ["prot": 8080]
            case .misspeltTopLevelKey: c["signing_kye"] = "rs-1"
            case .unknownKeyNothingClose: c["colour"] = "blue"
            }
        }

        var expected: [String] {
            switch self {
            case .wrongAlg: return ["$.keys[0].alg: unsupported algorithm RS265"]
            case .misspeltListenKey: return [#"$.listen: unknown key "prot" (did you mean "port"?)"#]
            case .misspeltTopLevelKey: return [#"$: unknown key "signing_kye" (did you mean "signing_key"?)"#]
            case .unknownKeyNothingClose: return [#"$: unknown key "colour""#]
            }
        }
    }

    @Test(arguments: Mistake.allCases)
    func oneMistakeOneProblem(_ mistake: Mistake) throws {
        let f = try Fixture(mutate: mistake.apply)
        defer { f.cleanUp() }
        do {
            _ = try ConfigLoader.load(path: f.configPath, environment: [:])
            Issue.record("\(mistake): the config must not load")
        } catch {
            #expect(error.problems == mistake.expected, "\(mistake)")
        }
    }

    @Test func editDistance() {
        #expect(ConfigReader.distance("prot", "port") == 2 && ConfigReader.distance("", "abc") == 3 && ConfigReader.distance("abc", "abc") == 0)
        #expect(ConfigReader.suggestion(for: "grant_type", among: ["grant_types", "scopes"]) == "grant_types")
    }
}
