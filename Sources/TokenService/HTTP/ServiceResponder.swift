import OAuthWire
import Claims
import JSONCore
import Logging
import NIOCore
import NIOHTTP1

/// The service behind the HTTP API: current state, grants, shared state and metrics.
struct ServiceCore: Sendable {
    let holder: StateHolder
    let issuer: Issuer
    /// The grants the token endpoint serves.
    let grants: GrantRegistry
    /// One-time memory and abuse counters (this process, or Redis shared by replicas).
    let shared: any SharedState
    /// This replica's abuse counters while `shared` cannot be reached (limits never fail open).
    let localCounters = InProcessState()
    /// The trusted issuers' key caches (workload identity), kept across reloads.
    let workloads: WorkloadIdentity
    let dpopKeys = DPoPKeyCache()
    var metrics: ServiceMetrics { issuer.metrics }
    func tokenEndpoint(_ scope: RequestScope) -> TokenEndpoint {
        TokenEndpoint(issuer: issuer, grants: grants, shared: shared, guardrails: guardrails(scope),
                      dpopKeys: dpopKeys, workloads: workloads, scope: scope)
    }
    func guardrails(_ scope: RequestScope) -> AbuseLimits {
        AbuseLimits(shared: shared, local: localCounters, metrics: metrics, scope: scope)
    }
    func gatewayMint(_ scope: RequestScope) -> GatewayMint { GatewayMint(issuer: issuer, grants: grants, guardrails: guardrails(scope)) }
}

/// The routes of the `Endpoint` table a listener serves: a served path with its method goes to its
/// handler, with another method it is 405 with `Allow` (`HEAD` is answered as `GET`), any other path 404
/// (with `listen.admin`, the public listener does not serve `/metrics` and `/healthz`). A thrown
/// `TokenError` is the answer it maps to; anything else is logged and answered 500.
struct ServiceResponder: EdgeResponder {
    let core: ServiceCore
    var serves: Set<Endpoint> = Set(Endpoint.allCases)

    func answer(_ request: EdgeRequest, scope: RequestScope) -> EdgeAnswer {
        guard let endpoint = Endpoint.byPath[request.path], serves.contains(endpoint) else {
            return .now(EdgeResponse(status: .notFound, headers: [:], body: []))
        }
        guard request.method == endpoint.method || (endpoint.method == .GET && request.method == .HEAD) else {
            return .now(TokenError(.methodNotAllowed(allow: endpoint.method.rawValue), "use \(endpoint.method.rawValue) for this endpoint").response)
        }
        let state = core.holder.current
        switch endpoint {
        case .discovery:
            return .now(.json(state.discoveryJSON, cache: "public, max-age=300"))
        case .jwks:
            return .now(.json(state.keys.jwksJSON, cache: "public, max-age=300"))
        case .metrics:
            if let workers = core.issuer.engine?.runningWorkers() { core.metrics.pipelineWorkers(core: workers.core, spare: workers.spare) }
            return .now(EdgeResponse(headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"], body: core.metrics.exposition()))
        case .health where !state.canSign:
            return .now(.json(JSON.serialize(.object(ServiceState.health(status: "cannot sign", config: state.config))), status: .serviceUnavailable))
        case .health where core.shared.isLocal:
            return .now(.json(state.healthyJSON))
        case .token:
            return token(request, state: state, scope: scope)
        case .introspect:
            return introspect(request, state: state, scope: scope)
        case .mint:
            return mint(request, state: state, scope: scope)
        case .health:
            return .later { [self] in await health(state: state) }
        }
    }

    /// A token request: answered at once when nothing in it waits (`TokenEndpoint.handleNow`), else later.
    private func token(_ request: EdgeRequest, state: ServiceState, scope: RequestScope) -> EdgeAnswer {
        let endpoint = core.tokenEndpoint(scope)
        let r: TokenEndpoint.Request
        do throws(TokenError) {
            r = try Self.tokenRequest(request)
            if let response = try endpoint.handleNow(r, state: state) { return .now(.json(response.body)) }
        } catch {
            return .now(error.response)
        }
        return Self.later(scope) { try await .json(endpoint.handle(r, state: state).body) }
    }

    /// The auth gateway's mint request: answered at once when nothing in it waits (`GatewayMint.handleNow`), else later.
    private func mint(_ request: EdgeRequest, state: ServiceState, scope: RequestScope) -> EdgeAnswer {
        let gateway = core.gatewayMint(scope)
        let info = Self.requestInfo(request)
        let mint: GatewayMint.Request
        do throws(TokenError) {
            guard let auth = request.header("Authorization"), auth.utf8.count > 7, auth.prefix(7).lowercased() == "bearer ",
                  state.gatewayAuthorized(String(auth.dropFirst(7)))
            else {
                throw TokenError(.invalidToken, "a valid gateway bearer token is required")
            }
            mint = try GatewayMint.parse(Array(request.body.readableBytesView))
            if request.headers.contains(name: DPoPProof.headerName) {
                throw TokenError.invalidRequest("the gateway checks the DPoP proof and sends dpop_jkt in the body")
            }
            if let response = try gateway.handleNow(mint, info: info, state: state, scope: scope) { return .now(.json(response.body)) }
        } catch {
            return .now(error.response)
        }
        return Self.later(scope) { try await .json(gateway.handle(mint, info: info, state: state, scope: scope).body) }
    }

    /// An introspection request (RFC 7662): answered at once when authenticating its caller waits for
    /// nothing (`TokenEndpoint.authenticateNow`), else later.
    private func introspect(_ request: EdgeRequest, state: ServiceState, scope: RequestScope) -> EdgeAnswer {
        let endpoint = core.tokenEndpoint(scope)
        let audiences = state.introspectionAssertionAudiences
        let r: TokenEndpoint.Request
        do throws(TokenError) {
            r = try Self.tokenRequest(request)
            if let caller = try endpoint.authenticateNow(r, state: state, audiences: audiences) {
                return .now(try introspection(r, caller: caller, accept: request.headers["Accept"], state: state))
            }
        } catch {
            return .now(error.response)
        }
        return Self.later(scope) { [self] in
            try introspection(r, caller: try await endpoint.authenticate(r, state: state, audiences: audiences), accept: request.headers["Accept"], state: state)
        }
    }

    /// What an authenticated caller may learn about `token` (RFC 7662), signed when it accepts a JWT (RFC 9701).
    private func introspection(_ r: TokenEndpoint.Request, caller client: RegisteredClient, accept: [String], state: ServiceState) throws(TokenError) -> EdgeResponse {
        guard let token = r.form["token"] else { throw TokenError.invalidRequest("token is missing") }
        let now = core.issuer.now()
        let result = Introspection.result(token: token, caller: client, state: state, now: now)
        if accept.contains(where: { $0.lowercased().contains(Introspection.jwtMediaType) }) {
            let jwt = try Introspection.signed(result, audience: client.id, state: state, now: now)
            return EdgeResponse(headers: ["Content-Type": Introspection.jwtMediaType, "Cache-Control": "no-store", "Pragma": "no-cache"],
                                body: Array(jwt.utf8))
        }
        return Self.json(result)
    }

    /// Work that may wait, its errors answered as every error is: a `TokenError` as what it maps to,
    /// anything else logged and answered 500.
    private static func later(_ scope: RequestScope, _ work: @escaping @Sendable () async throws -> EdgeResponse) -> EdgeAnswer {
        .later {
            do {
                return try await work()
            } catch let error as TokenError {
                return error.response
            } catch {
                scope.logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))"])
                return TokenError.serverError("internal error").response
            }
        }
    }

    /// `/healthz` with shared state to ask (Redis). Shared state down: still 200 (tokens that need no
    /// one-time check are issued), but said.
    private func health(state: ServiceState) async -> EdgeResponse {
        if let problem = await core.shared.problem() {
            return Self.json(ServiceState.health(status: "degraded", config: state.config, extra: [("shared_state", .string(problem))]))
        }
        return .json(state.healthyJSON)
    }

    static func json(_ o: JSONObject) -> EdgeResponse { .json(JSON.serialize(.object(o))) }

    /// A form request at the token or introspection endpoint, with what client authentication and DPoP need.
    static func tokenRequest(_ request: EdgeRequest) throws(TokenError) -> TokenEndpoint.Request {
        guard request.header("Content-Type").map(mediaType) == "application/x-www-form-urlencoded" else {
            throw TokenError.invalidRequest("Content-Type must be application/x-www-form-urlencoded")
        }
        let form: FormParameters
        do { form = try FormParameters(body: Array(request.body.readableBytesView)) } catch { throw TokenError.invalidRequest(error.reason) }
        return TokenEndpoint.Request(form: form, authorization: request.header("Authorization"),
                                     dpop: request.headers[DPoPProof.headerName], info: requestInfo(request))
    }

    static func requestInfo(_ request: EdgeRequest) -> RequestInfo {
        RequestInfo(remoteIP: request.remoteIP, headers: { [fields = request.headers] in fields.map { ($0.name, $0.value) } })
    }

    /// The media type of a Content-Type value, without parameters or surrounding blanks, its ASCII letters
    /// lowercased (media types are ASCII tokens compared case-insensitively, RFC 9110 §8.3.1).
    static func mediaType(_ value: String) -> String {
        let type = OAuthSyntax.trimmingOWS(value.utf8.prefix { $0 != UInt8(ascii: ";") })
        return String(decoding: type.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
