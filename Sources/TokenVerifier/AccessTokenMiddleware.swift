import Foundation
public import Hummingbird
import HTTPTypes

/// A request context that can carry the verified access token.
public protocol AccessTokenRequestContext: RequestContext {
    var accessToken: VerifiedAccessToken? { get set }
}

/// Hummingbird middleware for backends: requires `Authorization: Bearer <token>` (or `DPoP <token>`) with
/// an access token the verifier accepts and, when given, the scopes; puts the verified token in the
/// context. Failures answer 401 with `WWW-Authenticate` (RFC 6750 §3), missing scopes 403.
public struct AccessTokenMiddleware<Context: AccessTokenRequestContext>: RouterMiddleware {
    public let verifier: AccessTokenVerifier
    public let requiredScopes: Set<String>

    public init(verifier: AccessTokenVerifier, requiredScopes: Set<String> = []) {
        self.verifier = verifier
        self.requiredScopes = requiredScopes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authorization = request.headers[.authorization] else { return Self.challenge(nil) }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, ["bearer", "dpop"].contains(parts[0].lowercased()) else { return Self.challenge("invalid_request") }
        let token: VerifiedAccessToken
        do { token = try await verifier.verify(String(parts[1]), now: Int64(Date().timeIntervalSince1970)) } catch {
            context.logger.info("access token refused", metadata: ["reason": "\(error)"])
            return Self.challenge("invalid_token")
        }
        guard requiredScopes.isSubset(of: token.scopes) else {
            var response = Self.challenge("insufficient_scope")
            response.status = .forbidden
            return response
        }
        var context = context
        context.accessToken = token
        return try await next(request, context)
    }

    static func challenge(_ error: String?) -> Response {
        let value = "Bearer realm=\"api\"" + (error.map { ", error=\"\($0)\"" } ?? "")
        return Response(status: .unauthorized, headers: [.wwwAuthenticate: value, .cacheControl: "no-store"])
    }
}
