import Claims
import Foundation
public import Hummingbird
import HTTPTypes
public import TokenVerifier

/// A request context that can carry the verified access token.
public protocol AccessTokenRequestContext: RequestContext {
    var accessToken: VerifiedAccessToken? { get set }
}

/// Hummingbird middleware for backends: requires `Authorization: Bearer <token>` with an access token the
/// verifier accepts or, for a DPoP-bound token, `Authorization: DPoP <token>` with a valid proof for this
/// request (RFC 9449 §7; see `DPoPRequirement`) and, when given, the scopes; puts the verified token in
/// the context. Failures answer 401 with `WWW-Authenticate` (RFC 6750 §3, RFC 9449 §7.1), missing
/// scopes 403.
public struct AccessTokenMiddleware<Context: AccessTokenRequestContext>: RouterMiddleware {
    public let verifier: AccessTokenVerifier
    public let requiredScopes: Set<String>
    public let dpop: DPoPRequirement
    private let proofs = DPoPProofChecker()

    public init(verifier: AccessTokenVerifier, requiredScopes: Set<String> = [], dpop: DPoPRequirement = .refuseBoundTokens) {
        self.verifier = verifier
        self.requiredScopes = requiredScopes
        self.dpop = dpop
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authorization = request.headers[.authorization] else { return challenge(nil) }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, ["bearer", "dpop"].contains(parts[0].lowercased()) else { return challenge("invalid_request") }
        let usesDPoP = parts[0].lowercased() == "dpop"
        let raw = String(parts[1])
        let now = Int64(Date().timeIntervalSince1970)
        let token: VerifiedAccessToken
        do { token = try await verifier.verify(raw, now: now) } catch {
            context.logger.info("access token refused", metadata: ["reason": "\(error)"])
            return challenge("invalid_token")
        }
        switch (token.dpopThumbprint, dpop) {
        case (nil, _):
            // RFC 9449 §7.1: the DPoP scheme is for bound tokens only.
            if usesDPoP { return challenge("invalid_token") }
        case (.some, .refuseBoundTokens):
            context.logger.info("access token refused", metadata: ["reason": "DPoP-bound tokens are not accepted here"])
            return challenge("invalid_token")
        case (.some(let thumbprint), .verifyProofs(let base)):
            guard usesDPoP else {
                context.logger.info("access token refused", metadata: ["reason": "a DPoP-bound token was presented as a bearer token"])
                return challenge("invalid_token", scheme: "DPoP")
            }
            let headerProofs = request.headers[values: HTTPField.Name(DPoPProof.headerName)!]
            guard headerProofs.count == 1 else { return challenge("invalid_dpop_proof", scheme: "DPoP") }
            do {
                _ = try proofs.check(headerProofs[0], method: request.method.rawValue, url: base + request.uri.path, token: raw,
                                     boundTo: thumbprint, now: now)
            } catch {
                context.logger.info("DPoP proof refused", metadata: ["reason": "\(error.reason)"])
                return challenge("invalid_dpop_proof", scheme: "DPoP")
            }
        }
        guard requiredScopes.isSubset(of: token.scopes) else {
            var response = challenge("insufficient_scope", scheme: token.dpopThumbprint != nil ? "DPoP" : "Bearer")
            response.status = .forbidden
            return response
        }
        var context = context
        context.accessToken = token
        return try await next(request, context)
    }

    /// `WWW-Authenticate` for the schemes this backend takes (both when it checks proofs), with `error`.
    func challenge(_ error: String?, scheme: String? = nil) -> Response {
        let errorPart = error.map { ", error=\"\($0)\"" } ?? ""
        var schemes: [String] = []
        if scheme == nil || scheme == "Bearer" { schemes.append("Bearer realm=\"api\"" + errorPart) }
        if case .verifyProofs = dpop, scheme == nil || scheme == "DPoP" {
            schemes.append("DPoP realm=\"api\", algs=\"\(DPoPProof.algorithms.map(\.rawValue).joined(separator: " "))\"" + errorPart)
        }
        var headers: HTTPFields = [.cacheControl: "no-store"]
        for value in schemes { headers.append(HTTPField(name: .wwwAuthenticate, value: value)) }
        return Response(status: .unauthorized, headers: headers)
    }
}
