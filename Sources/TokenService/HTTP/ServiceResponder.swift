import OAuthWire
import Claims
import HTTPTypes
import Hummingbird
import JSONCore
import Logging
import NIOCore

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
    let dpopKeys = DPoPKeyCache()
    var metrics: ServiceMetrics { issuer.metrics }
    func tokenEndpoint(_ scope: RequestScope) -> TokenEndpoint {
        TokenEndpoint(issuer: issuer, grants: grants, shared: shared, guardrails: guardrails(scope),
                      dpopKeys: dpopKeys, scope: scope)
    }
    func guardrails(_ scope: RequestScope) -> AbuseLimits {
        AbuseLimits(shared: shared, local: localCounters, metrics: metrics, logger: scope.logger)
    }
    func gatewayMint(_ scope: RequestScope) -> GatewayMint { GatewayMint(issuer: issuer, grants: grants, guardrails: guardrails(scope)) }
}

enum Routes {
    static let formLimit = 64 * 1024
    static let jsonLimit = 256 * 1024

    static func build(core: ServiceCore) -> Router<TokenRequestContext> {
        let router = Router(context: TokenRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: core.metrics))
        router.add(middleware: MethodNotAllowedMiddleware())

        router.post(RouterPath(Endpoint.token.path)) { request, context -> Response in
            let state = core.holder.current
            let response = try await core.tokenEndpoint(context.scope).handle(try await tokenRequest(request, context: context), state: state)
            return json(response.json)
        }

        router.post(RouterPath(Endpoint.mint.path)) { request, context -> Response in
            let state = core.holder.current
            guard let auth = request.headers[.authorization], auth.count > 7, auth.prefix(7).lowercased() == "bearer ",
                  state.gatewayAuthorized(String(auth.dropFirst(7)))
            else {
                throw TokenError(.invalidToken, "a valid gateway bearer token is required")
            }
            let body = try await collect(request, context: context, limit: jsonLimit)
            let mint = try GatewayMint.parse(body)
            if !request.headers[values: .dpop].isEmpty {
                throw TokenError.invalidRequest("the gateway checks the DPoP proof and sends dpop_jkt in the body")
            }
            return json(try await core.gatewayMint(context.scope).handle(mint, info: requestInfo(request, context: context), state: state,
                                                                         scope: context.scope).json)
        }

        router.post(RouterPath(Endpoint.introspect.path)) { request, context -> Response in
            let state = core.holder.current
            let r = try await tokenRequest(request, context: context)
            let client = try await core.tokenEndpoint(context.scope).authenticate(
                r, state: state, audiences: [state.tokenEndpoint, state.config.issuer, Endpoint.introspect.url(state.config.issuer)]).client
            guard let token = r.form["token"] else { throw TokenError.invalidRequest("token is missing") }
            let now = core.issuer.now()
            let result = Introspection.result(token: token, caller: client, state: state, now: now)
            // RFC 9701: a signed answer when the client asks for one.
            if request.headers[values: .accept].contains(where: { $0.lowercased().contains(Introspection.jwtMediaType) }) {
                let jwt = try Introspection.signed(result, audience: client.id, state: state, now: now)
                return Response(status: .ok, headers: [.contentType: Introspection.jwtMediaType, .cacheControl: "no-store", .pragma: "no-cache"],
                                body: .init(byteBuffer: ByteBuffer(string: jwt)))
            }
            return json(result)
        }

        router.get(RouterPath(Endpoint.discovery.path)) { _, _ -> Response in
            bytes(core.holder.current.discoveryJSON, cache: "public, max-age=300")
        }
        router.get(RouterPath(Endpoint.jwks.path)) { _, _ -> Response in
            bytes(core.holder.current.keys.jwksJSON, cache: "public, max-age=300")
        }
        router.get(RouterPath(Endpoint.health.path)) { _, _ -> Response in
            guard core.holder.current.canSign else {
                return Response(status: .serviceUnavailable, headers: .noStoreJSON, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"cannot sign"}"#)))
            }
            // Shared state down: still 200 (tokens that need no one-time check are issued), but said.
            if let problem = await core.shared.problem() {
                return json(["status": "degraded", "shared_state": .string(problem)])
            }
            return Response(status: .ok, headers: .noStoreJSON, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.get(RouterPath(Endpoint.metrics.path)) { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: core.metrics.exposition())))
        }
        return router
    }

    static func json(_ o: JSONObject) -> Response {
        bytes(JSON.serialize(.object(o)), cache: nil)
    }

    static func bytes(_ body: [UInt8], cache: String?) -> Response {
        var headers = HTTPFields.noStoreJSON
        if let cache {
            headers = [.contentType: "application/json", .cacheControl: cache]
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func collect(_ request: Request, context: TokenRequestContext, limit: Int) async throws -> [UInt8] {
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw TokenError(.bodyTooLarge, "the request body is larger than \(limit) bytes")
        } catch {
            // The client's stream ended early (a body shorter than its Content-Length) or broke: its doing.
            context.logger.info("request body could not be read", metadata: ["error.type": "\(type(of: error))"])
            throw TokenError.invalidRequest("the request body could not be read in full")
        }
    }

    /// A form request at the token or introspection endpoint, with what client authentication and DPoP need.
    static func tokenRequest(_ request: Request, context: TokenRequestContext) async throws -> TokenEndpoint.Request {
        TokenEndpoint.Request(form: try await formBody(request, context: context), authorization: request.headers[.authorization],
                              dpop: request.headers[values: .dpop],
                              info: requestInfo(request, context: context))
    }

    static func requestInfo(_ request: Request, context: TokenRequestContext) -> RequestInfo {
        RequestInfo(remoteIP: context.remoteIP, headers: { [fields = request.headers] in fields.map { ($0.name.canonicalName, $0.value) } })
    }

    static func formBody(_ request: Request, context: TokenRequestContext) async throws -> FormParameters {
        guard request.headers[.contentType].map(mediaType) == "application/x-www-form-urlencoded" else {
            throw TokenError.invalidRequest("Content-Type must be application/x-www-form-urlencoded")
        }
        let body = try await collect(request, context: context, limit: formLimit)
        do { return try FormParameters(body: body) } catch { throw TokenError.invalidRequest(error.reason) }
    }

    /// The media type of a Content-Type value, without parameters or surrounding blanks, lowercased.
    static func mediaType(_ value: String) -> String {
        let type = OAuthSyntax.trimmingOWS(value.utf8.prefix { $0 != UInt8(ascii: ";") })
        return String(decoding: type, as: UTF8.self).lowercased()
    }
}
