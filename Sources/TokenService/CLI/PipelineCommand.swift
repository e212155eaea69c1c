import OAuthWire
import ArgumentParser
import JSONCore
import Logging
import Pipeline

/// `tokenservice pipeline test`: GenAuth's "how to debug" for pipeline authors.
struct PipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pipeline", abstract: "Pipeline tools.", subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a trigger's pipeline and print what it adds, logs and decides.")
        @Option(help: "Configuration file.") var config: String
        @Option(help: "pre_id_token, pre_access_token or pre_transaction_token.") var trigger: String
        @Option(help: "JSON file with the user object (omit for M2M: user is null).") var user: String?
        @Option(help: "JSON file with the context object (with --client: the gateway's context, or fields added to an M2M one).")
        var context: String?
        @Option(help: "Build the context the service builds for this client (clientId, appName, scope, audience, grantType, request).")
        var client: String?

        func run() async throws {
            guard let trig = PipelineTrigger(rawValue: trigger) else { throw CommandFailure("trigger must be one of \(PipelineTrigger.allCases.map(\.rawValue).joined(separator: ", "))") }
            try await OfflineSession.with(config: config) { try await test(trig, $0) }
        }

        private func test(_ trig: PipelineTrigger, _ session: OfflineSession) async throws {
            let (state, engine) = (session.state, session.engine)
            let userValue: JSONValue = try user.map { .object(try JSONFile.object($0)) } ?? .null
            var ctx = try context.map { try JSONFile.object($0) } ?? [:]
            if let client {
                guard let registered = state.clients[client] else { throw CommandFailure("unknown client \(client)") }
                ctx = Self.serviceContext(for: registered, user: userValue, given: ctx, state: state)
            }
            if ctx["accessTokenTarget"] == nil, trig == .preAccessToken {
                ctx["accessTokenTarget"] = userValue.isNull ? "programmaticAccount" : "user"
            }
            guard let pipeline = state.pipelines[trig] else {
                print(JSON.serializeString(.object(["outcome": "proceed", "claims": [:], "logs": [], "note": "no enabled functions"])))
                return
            }
            // The synchronous functions, then — only when they allowed the token, as the service does — the
            // async ones (whose claims never reach a token), awaited.
            let report = await engine.run(pipeline, user: userValue, context: ctx, background: false)
            var out = PipelineCommand.describe(report, pipeline)
            if report.outcome == .proceed {
                let async = PipelineCommand.describe(await engine.runBackground(pipeline, user: userValue, context: ctx), pipeline)
                out["async"] = ["outcome": async["outcome"] ?? "proceed", "functions": async["functions"] ?? [], "logs": async["logs"] ?? [],
                                "http": async["http"] ?? []]
            } else {
                out["async"] = ["outcome": "not run: the token was refused", "functions": [], "logs": [], "http": []]
            }
            print(JSON.serializeString(.object(out)))
            if report.outcome != .proceed { throw ExitCode(2) }
        }

        /// The context the service gives this client's pipelines: client_credentials without a user (from a
        /// loopback address), the gateway's authorization_code with one; the client's scopes and first audience.
        static func serviceContext(for client: RegisteredClient, user: JSONValue, given: JSONObject, state: ServiceState) -> JSONObject {
            let audience = client.config.audiences.first ?? ""
            guard user.isNull else {
                return PipelineContext.user(gatewayContext: given, client: client, grantType: ServiceConfig.GrantType.authorizationCode.rawValue,
                                            scope: client.config.scopes, audience: audience, redacting: state.config.pipelineRedactedHeaders)
            }
            let grant = ServiceConfig.GrantType.clientCredentials.rawValue
            var ctx = PipelineContext.oauth(grantType: grant, client: client, scope: client.config.scopes, audience: audience,
                                            form: FormParameters(values: ["grant_type": grant]),
                                            info: .init(remoteIP: "127.0.0.1", headers: { [] }), redacting: state.config.pipelineRedactedHeaders)
            for (k, v) in given where ctx[k] == nil { ctx[k] = v }
            return ctx
        }
    }

    /// The answer a client would get: status and error code, as the edge writes them.
    static func http(_ error: TokenError) -> JSONValue { .string("\(error.status.code) \(error.code)") }

    /// What `pipeline test` prints for one run: outcome, claims, removals, refusals, logs, every
    /// function's outcome and its outbound calls (method, URL without query, status or error, ms).
    static func describe(_ report: PipelineReport, _ pipeline: CompiledPipeline) -> JSONObject {
        var added = JSONObject()
        let refused = report.extensions.apply(to: &added)
        let removed = report.extensions.operations.compactMap { op -> JSONValue? in
            if case .remove(let k) = op { return .string(k) }
            return nil
        }
        let outcome: JSONValue
        switch report.outcome {
        case .proceed: outcome = "proceed"
        case .denied(let f, let m): outcome = ["denied": ["function": .string(f), "message": .string(m), "http": http(.accessDenied(m))]]
        case .failed(let f, let r): outcome = ["failed": ["function": .string(f), "reason": .string(r), "http": http(.serverError(r))]]
        }
        let calls: [JSONValue] = report.httpCalls.map { call in
            var o: JSONObject = ["function": .string(pipeline.functions[call.function].name), "method": .string(call.method),
                                 "url": .string(call.url), "ms": .int(Int64(call.milliseconds))]
            if let status = call.status { o["status"] = .int(Int64(status)) }
            if let error = call.error { o["error"] = .string(error) }
            return .object(o)
        }
        return [
            "outcome": outcome, "claims": .object(added), "removed": .array(removed),
            "refused": .array((refused + report.refusedClaims).map { .string($0) }),
            "logs": .array(report.logs.map { ["function": .string($0.function), "message": .string($0.message)] }),
            "functions": .array(report.functions.map { f in
                var o: JSONObject = ["name": .string(f.name), "outcome": .string(f.outcome.label)]
                if case .failed(let reason) = f.outcome { o["reason"] = .string(reason) }
                if case .skipped(let reason) = f.outcome { o["reason"] = .string(reason) }
                return .object(o)
            }),
            "http": .array(calls),
        ]
    }
}
