import ArgumentParser
import Claims
import Foundation
import JOSE
import JSONCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Pipeline

/// `tokenservice microbench` (used by `make bench`): per-operation latency of signing+serialising an
/// access token with each configured key, of one access line, of one pipeline run, and of one
/// client_credentials answer from the service's responder without HTTP, as p50/p99 microseconds.
struct MicrobenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "microbench", abstract: "Internal: micro-benchmarks for make bench.",
                                                    shouldDisplay: false)
    @Option(help: "Configuration file.") var config: String
    @Option(help: "Iterations for fast operations.") var iterations: Int = 20_000
    @Option(help: "A configuration without pipelines for the token answer (with --token-client).") var tokenConfig: String?
    @Option(help: "id:secret of a client_secret_basic client of --token-config.") var tokenClient: String?

    func run() async throws {
        var out = try await OfflineSession.with(config: config, logLevel: .error) { try await measure($0) }
        if let tokenConfig, let tokenClient {
            out["token_answer_us"] = try await OfflineSession.with(config: tokenConfig, logLevel: .error) {
                try Self.tokenAnswer($0, client: tokenClient, iterations: iterations)
            }
        }
        print(JSON.serializeString(.object(out)))
    }

    /// A client_credentials request answered by the service's responder, as the edge asks it (form,
    /// Basic, registry, limits, claims, JWS, response body), without HTTP or the access line.
    static func tokenAnswer(_ session: OfflineSession, client: String, iterations: Int) throws -> JSONValue {
        let responder = ServiceResponder(core: session.core)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        headers.add(name: "Authorization", value: "Basic " + Data(client.utf8).base64EncodedString())
        let request = EdgeRequest(method: .POST, path: Endpoint.token.rawValue, headers: headers,
                                  body: ByteBuffer(string: "grant_type=client_credentials"), remoteIP: "127.0.0.1")
        var samples: [Double] = []
        samples.reserveCapacity(iterations)
        for i in 0..<iterations {
            let scope = RequestScope(logger: session.logger, requestID: "5f0c2a9e1b7d3c48-\(String(i, radix: 16))")
            let t0 = DispatchTime.now().uptimeNanoseconds
            guard case .now(let response) = responder.answer(request, scope: scope) else {
                throw CommandFailure("the token answer waited: --token-config must have no pipelines and no shared state")
            }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000)
            guard response.status == .ok else { throw CommandFailure("the token answer was \(response.status.code): \(String(decoding: response.body, as: UTF8.self))") }
        }
        return summary(samples)
    }

    private func measure(_ session: OfflineSession) async throws -> JSONObject {
        let (state, engine) = (session.state, session.engine)
        var out = JSONObject()

        var signing = JSONObject()
        let ids = RandomPool()
        for key in state.keys.all.keys {
            guard let signers = state.keys.signers(for: key.kid) else { continue }
            let n = key.algorithm.family == .rsaPKCS1 || key.algorithm.family == .rsaPSS ? max(200, iterations / 40) : iterations
            var samples: [Double] = []
            samples.reserveCapacity(n)
            for i in 0..<n {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let claims = AccessTokenClaims(issuer: state.config.issuer, subject: "bench", audience: ["https://api.example.com"],
                                               clientID: "bench", issuedAt: 1_800_000_000 + Int64(i), expiresAt: 1_800_003_600,
                                               jwtID: Base64URL.encode(ids.bytes(16)), scope: ["a", "b"])
                _ = try signers.accessToken.sign(claims: claims.payload)
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000)
            }
            signing[key.algorithm.rawValue] = Self.summary(samples)
        }
        out["sign_and_serialize_us"] = .object(signing)
        out["access_line_us"] = try await Self.accessLine(iterations: iterations)

        if let pipeline = state.pipelines[.preAccessToken] {
            let context: JSONObject = ["clientId": "bench", "appId": "bench", "appName": "bench", "accessTokenTarget": "programmaticAccount",
                                       "scope": ["a"], "request": ["ip": "10.0.0.7", "headers": [:]]]
            for _ in 0..<200 { _ = await engine.run(pipeline, user: .null, context: context) }  // warm-up: JIT, workers
            var samples: [Double] = []
            for _ in 0..<iterations / 4 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let report = await engine.run(pipeline, user: .null, context: context)
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000)
                guard report.outcome == .proceed else { throw CommandFailure("bench pipeline failed: \(report.outcome)") }
            }
            out["pipeline_run_us"] = Self.summary(samples)
            out["pipeline_functions"] = .int(Int64(pipeline.functions.filter(\.enabled).count))
        }
        return out
    }

    /// One request's access line as the edge writes it (text format, the fields of a token request), to
    /// `/dev/null` through the sink's per-turn batching, on an event loop: the mean of each 100 lines.
    static func accessLine(iterations: Int) async throws -> JSONValue {
        let fd = open("/dev/null", O_WRONLY)
        guard fd >= 0 else { throw CommandFailure("cannot open /dev/null") }
        defer { close(fd) }
        let handler = ServiceLogHandler(label: "tokenservice", format: .text, level: .info, sink: .writing(to: fd))
        let logger = Logger(label: "tokenservice") { _ in handler }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let samples = try await loop.submit {
            var samples: [Double] = []
            for batch in 0..<max(1, iterations / 100) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                for i in 0..<100 {
                    let scope = RequestScope(logger: logger, requestID: "5f0c2a9e1b7d3c48-\(String(batch * 100 + i, radix: 16))")
                    scope.note.set { $0 = .init(clientID: "bench-hs", grantType: "client_credentials", alg: "HS256", kid: "hs-1") }
                    AccessLog.write(scope, method: .POST, path: "/oauth/token", status: .ok, elapsed: .microseconds(87), remoteIP: "127.0.0.1", loop: loop)
                }
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 100_000)
            }
            return samples
        }.get()
        return summary(samples)
    }

    static func summary(_ samples: [Double]) -> JSONValue {
        let s = samples.sorted()
        func pct(_ p: Double) -> JSONValue { .string(String(format: "%.1f", s[min(s.count - 1, Int(Double(s.count) * p))])) }
        return ["n": .int(Int64(s.count)), "p50": pct(0.5), "p99": pct(0.99)]
    }
}
