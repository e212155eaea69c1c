import HTTPTypes
import Hummingbird
import JSONCore
import Logging
import NIOCore

/// The service behind the HTTP API: current state, grants and metrics.
struct ServiceCore: Sendable {
    let holder: StateHolder
    let issuer: Issuer
    let replayCache: AssertionReplayCache
    var metrics: ServiceMetrics { issuer.metrics }
    var clientCredentials: ClientCredentialsGrant { ClientCredentialsGrant(issuer: issuer, replayCache: replayCache) }
    var gatewayMint: GatewayMint { GatewayMint(issuer: issuer) }
}

enum Routes {
    static let formLimit = 64 * 1024
    static let jsonLimit = 256 * 1024

    static func build(core: ServiceCore) -> Router<TokenRequestContext> {
        let router = Router(context: TokenRequestContext.self)
        router.add(middleware: MetricsMiddleware(metrics: core.metrics))
        router.add(middleware: MethodNotAllowedMiddleware(allowed: [
            "/oauth/token": .post, "/v1/tokens": .post, "/oauth/introspect": .post,
            "/.well-known/openid-configuration": .get, "/.well-known/jwks.json": .get, "/healthz": .get, "/metrics": .get,
        ]))

        router.post("/oauth/token") { request, context -> Response in
            let form = try await formBody(request, context: context)
            let state = core.holder.current
            let info = ClientCredentialsGrant.RequestInfo(remoteIP: context.remoteIP, headers: request.headers)
            let response = try await core.clientCredentials.handle(
                form: form, authorization: request.headers[.authorization], info: info, state: state)
            return json(response.json)
        }

        router.post("/v1/tokens") { request, context -> Response in
            let state = core.holder.current
            guard let auth = request.headers[.authorization], auth.count > 7, auth.prefix(7).lowercased() == "bearer ",
                  state.gatewayAuthorized(String(auth.dropFirst(7)))
            else {
                throw OAuthError(.unauthorized, "invalid_token", "a valid gateway bearer token is required",
                                 headers: [.wwwAuthenticate: #"Bearer realm="tokenservice""#])
            }
            let body = try await collect(request, context: context, limit: jsonLimit)
            let mint = try GatewayMint.parse(body)
            return json(try await core.gatewayMint.handle(mint, state: state).json)
        }

        router.post("/oauth/introspect") { request, context -> Response in
            let form = try await formBody(request, context: context)
            let state = core.holder.current
            let authenticator = ClientAuthenticator(clients: state.clients, replayCache: core.replayCache,
                                                    audiences: [state.tokenEndpoint, state.config.issuer, state.config.issuer + "/oauth/introspect"])
            _ = try authenticator.authenticate(authorization: request.headers[.authorization], form: form, now: core.issuer.now())
            guard let token = form["token"] else { throw OAuthError.invalidRequest("token is missing") }
            return json(Introspection.result(token: token, state: state, now: core.issuer.now()))
        }

        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            bytes(core.holder.current.discoveryJSON, cache: "public, max-age=300")
        }
        router.get("/.well-known/jwks.json") { _, _ -> Response in
            bytes(core.holder.current.keys.jwksJSON, cache: "public, max-age=300")
        }
        router.get("/healthz") { _, _ -> Response in
            guard core.holder.current.canSign else {
                return Response(status: .serviceUnavailable, headers: .noStoreJSON, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"cannot sign"}"#)))
            }
            return Response(status: .ok, headers: .noStoreJSON, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.get("/metrics") { _, _ -> Response in
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
            throw OAuthError(.contentTooLarge, "invalid_request", "the request body is larger than \(limit) bytes")
        }
    }

    static func formBody(_ request: Request, context: TokenRequestContext) async throws -> FormParameters {
        guard request.headers[.contentType].map(mediaType) == "application/x-www-form-urlencoded" else {
            throw OAuthError.invalidRequest("Content-Type must be application/x-www-form-urlencoded")
        }
        return try FormParameters(body: try await collect(request, context: context, limit: formLimit))
    }

    /// The media type of a Content-Type value, without parameters or surrounding blanks, lowercased.
    static func mediaType(_ value: String) -> String {
        let type = OAuthSyntax.trimmingOWS(value.utf8.prefix { $0 != UInt8(ascii: ";") })
        return String(decoding: type, as: UTF8.self).lowercased()
    }
}
