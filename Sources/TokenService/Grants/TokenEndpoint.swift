import OAuthWire
import Claims
import Logging

/// `POST /oauth/token`: the grant type, client authentication (behind the abuse limits), the client's
/// token quota and DPoP binding, then the grant's handler from the registry (one file per grant).
struct TokenEndpoint: Sendable {
    let issuer: Issuer
    let grants: GrantRegistry
    let shared: any SharedState
    let guardrails: AbuseLimits
    let dpopKeys: DPoPKeyCache
    let workloads: WorkloadIdentity
    let scope: RequestScope

    struct Request: Sendable {
        var form: FormParameters
        var authorization: String?
        /// Every `DPoP` header value (more than one is an error).
        var dpop: [String]
        var info: RequestInfo
    }

    func handle(_ r: Request, state: ServiceState) async throws(TokenError) -> TokenResponse {
        guard let grantName = r.form["grant_type"] else { throw TokenError.invalidRequest("grant_type is missing") }
        guard let handler = grants.handler(for: grantName, requestedTokenType: r.form["requested_token_type"], at: .token) else {
            throw TokenError.unsupportedGrantType("grant_type \(grantName) is not supported at this endpoint")
        }
        let grant = handler.grantType
        scope.note.set { $0.grantType = grant.rawValue }
        let client = try await authenticate(r, state: state, audiences: [state.tokenEndpoint, state.config.issuer])
        guard client.config.grantTypes.contains(grant) else {
            throw TokenError.unauthorizedClient("\(grant.rawValue) is not allowed for this client")
        }
        try await guardrails.spendToken(client: client, now: issuer.now())
        let jkt = try await dpopThumbprint(r.dpop, client: client, state: state)
        var request = GrantRequest(client: client, form: r.form, info: r.info, dpopThumbprint: jkt, state: state, scope: scope)
        request.workloads = workloads
        var response = try await handler.issue(request, issuer: issuer)
        // A bound token says so (RFC 9449 §5); a token type that is not a bearer token (a Txn-Token's N_A) stays.
        if jkt != nil, response.tokenType == TokenResponse.bearer { response.tokenType = "DPoP" }
        return response
    }

    /// Client authentication behind the failed-authentication limits (also used by introspection).
    func authenticate(_ r: Request, state: ServiceState, audiences: Set<String>) async throws(TokenError) -> RegisteredClient {
        let now = issuer.now()
        let presented = ClientAuthenticator.Presented(authorization: r.authorization, form: r.form, trustedIssuers: state.config.trustedIssuers)
        let claimed = presented.claimedClientID(form: r.form)
        if let claimed { scope.note.set { $0.clientID = claimed } }
        try await guardrails.admit(clientID: claimed, address: r.info.remoteIP, limits: state.config.limits, now: now)
        let authenticator = ClientAuthenticator(clients: state.clients, oneTime: shared, audiences: audiences,
                                                workloads: workloads, scope: scope)
        do {
            return try await authenticator.authenticate(presented, form: r.form, now: now)
        } catch {
            if error.isClientAuthenticationFailure { await guardrails.recordFailure(clientID: claimed, address: r.info.remoteIP, now: now) }
            throw error
        }
    }

    /// The thumbprint of a valid, unused DPoP proof for this request; nil without one (unless the
    /// client must use DPoP).
    private func dpopThumbprint(_ proofs: [String], client: RegisteredClient, state: ServiceState) async throws(TokenError) -> String? {
        guard let proof = proofs.first else {
            if client.config.dpopBoundAccessTokens { throw TokenError.invalidDPoPProof("this client must send a DPoP proof") }
            return nil
        }
        guard proofs.count == 1 else { throw TokenError.invalidDPoPProof("send exactly one DPoP header") }
        let now = issuer.now()
        let verified: DPoPProof
        do { verified = try DPoPProof.verify(proof, method: "POST", normalizedURL: state.dpopTokenEndpoint, now: now, keys: dpopKeys) } catch {
            throw TokenError.invalidDPoPProof("DPoP proof: \(error.reason)")
        }
        let fresh: Bool
        do { fresh = try await shared.claimOnce(verified.oneTimeKey, expiresAt: verified.rememberUntil, now: now) } catch {
            throw TokenError.temporarilyUnavailable("the one-time check of the DPoP proof is unavailable")
        }
        guard fresh else { throw TokenError.invalidDPoPProof("DPoP proof: jti was already used") }
        return verified.thumbprint
    }
}
