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
        let handler = try grant(for: r)
        let client = try await authenticate(r, state: state, audiences: state.assertionAudiences)
        try Self.check(handler, allowedFor: client)
        try await guardrails.spendToken(client: client, now: issuer.now())
        let jkt = try await dpopThumbprint(r.dpop, client: client, state: state)
        let response = try await handler.issue(grantRequest(r, client: client, jkt: jkt, state: state), issuer: issuer)
        return Self.bound(response, to: jkt)
    }

    /// `handle` when nothing in the request waits — the shared state is this process's memory, the client
    /// authenticates with a secret and the grant issues without waiting: the same steps in the same order,
    /// answered on the event loop. nil, decided before anything is counted, when a step could wait.
    func handleNow(_ r: Request, state: ServiceState) throws(TokenError) -> TokenResponse? {
        guard let counters = shared.inProcess else { return nil }
        let handler = try grant(for: r)
        guard !handler.waitsToIssue(r.form, state: state, issuer: issuer), let client = try authenticateNow(r, state: state, audiences: state.assertionAudiences)
        else { return nil }
        try Self.check(handler, allowedFor: client)
        try guardrails.spendTokenNow(client: client, now: issuer.now(), counters: counters)
        let jkt = try dpopThumbprintNow(r.dpop, client: client, state: state, counters: counters)
        return Self.bound(try handler.issueNow(grantRequest(r, client: client, jkt: jkt, state: state), issuer: issuer), to: jkt)
    }

    /// The grant's handler, by `grant_type` (and `requested_token_type`); the log line names the grant.
    private func grant(for r: Request) throws(TokenError) -> any TokenGrant {
        guard let grantName = r.form["grant_type"] else { throw TokenError.invalidRequest("grant_type is missing") }
        guard let handler = grants.handler(for: grantName, requestedTokenType: r.form["requested_token_type"], at: .token) else {
            throw TokenError.unsupportedGrantType("grant_type \(grantName) is not supported at this endpoint")
        }
        let grant = handler.grantType
        scope.note.set { $0.grantType = grant.rawValue }
        return handler
    }

    private static func check(_ handler: any TokenGrant, allowedFor client: RegisteredClient) throws(TokenError) {
        guard client.config.grantTypes.contains(handler.grantType) else {
            throw TokenError.unauthorizedClient("\(handler.grantType.rawValue) is not allowed for this client")
        }
    }

    private func grantRequest(_ r: Request, client: RegisteredClient, jkt: String?, state: ServiceState) -> GrantRequest {
        var request = GrantRequest(client: client, form: r.form, info: r.info, dpopThumbprint: jkt, state: state, scope: scope)
        request.workloads = workloads
        return request
    }

    /// A bound token says so (RFC 9449 §5); a token type that is not a bearer token (a Txn-Token's N_A) stays.
    private static func bound(_ response: TokenResponse, to jkt: String?) -> TokenResponse {
        var response = response
        if jkt != nil, response.tokenType == TokenResponse.bearer { response.tokenType = "DPoP" }
        return response
    }

    /// Client authentication behind the failed-authentication limits (also used by introspection).
    func authenticate(_ r: Request, state: ServiceState, audiences: Set<String>) async throws(TokenError) -> RegisteredClient {
        let now = issuer.now()
        let (presented, claimed) = presented(r, state: state)
        try await guardrails.admit(clientID: claimed, address: r.info.remoteIP, limits: state.config.limits, now: now)
        do {
            return try await authenticator(state, audiences: audiences).authenticate(presented, form: r.form, now: now)
        } catch {
            if error.isClientAuthenticationFailure { await guardrails.recordFailure(clientID: claimed, address: r.info.remoteIP, now: now) }
            throw error
        }
    }

    /// `authenticate` when the shared state is this process's memory and the client authenticates with a
    /// secret; nil, with nothing counted, when either could wait (Redis, an assertion).
    func authenticateNow(_ r: Request, state: ServiceState, audiences: Set<String>) throws(TokenError) -> RegisteredClient? {
        guard let counters = shared.inProcess else { return nil }
        let now = issuer.now()
        let (presented, claimed) = presented(r, state: state)
        try guardrails.admitNow(clientID: claimed, address: r.info.remoteIP, limits: state.config.limits, now: now, counters: counters)
        do {
            return try authenticator(state, audiences: audiences).authenticateWithoutAssertion(presented, form: r.form)
        } catch {
            if error.isClientAuthenticationFailure { guardrails.recordFailureNow(clientID: claimed, address: r.info.remoteIP, now: now, counters: counters) }
            throw error
        }
    }

    /// What the request presents to authenticate, and the client it names (noted for the log line).
    private func presented(_ r: Request, state: ServiceState) -> (ClientAuthenticator.Presented, claimed: String?) {
        let presented = ClientAuthenticator.Presented(authorization: r.authorization, form: r.form, trustedIssuers: state.config.trustedIssuers)
        let claimed = presented.claimedClientID(form: r.form)
        if let claimed { scope.note.set { $0.clientID = claimed } }
        return (presented, claimed)
    }

    private func authenticator(_ state: ServiceState, audiences: Set<String>) -> ClientAuthenticator {
        ClientAuthenticator(clients: state.clients, oneTime: shared, audiences: audiences, workloads: workloads, scope: scope)
    }

    /// The thumbprint of a valid, unused DPoP proof for this request; nil without one (unless the
    /// client must use DPoP).
    private func dpopThumbprint(_ proofs: [String], client: RegisteredClient, state: ServiceState) async throws(TokenError) -> String? {
        guard let (proof, now) = try verifiedProof(proofs, client: client, state: state) else { return nil }
        let fresh: Bool
        do { fresh = try await shared.claimOnce(proof.oneTimeKey, expiresAt: proof.rememberUntil, now: now) } catch { throw Self.dpopOneTimeCheckUnavailable }
        return try Self.thumbprint(proof, fresh: fresh)
    }

    /// `dpopThumbprint` with this process's memory as the one-time memory.
    private func dpopThumbprintNow(_ proofs: [String], client: RegisteredClient, state: ServiceState, counters: InProcessState) throws(TokenError) -> String? {
        guard let (proof, now) = try verifiedProof(proofs, client: client, state: state) else { return nil }
        let fresh: Bool
        do { fresh = try counters.claimOnceNow(proof.oneTimeKey, expiresAt: proof.rememberUntil, now: now) } catch { throw Self.dpopOneTimeCheckUnavailable }
        return try Self.thumbprint(proof, fresh: fresh)
    }

    /// The request's one DPoP proof, verified, and the time it was verified at; nil without one (unless the
    /// client must use DPoP).
    private func verifiedProof(_ proofs: [String], client: RegisteredClient, state: ServiceState) throws(TokenError) -> (DPoPProof, now: Int64)? {
        guard let proof = proofs.first else {
            if client.config.dpopBoundAccessTokens { throw TokenError.invalidDPoPProof("this client must send a DPoP proof") }
            return nil
        }
        guard proofs.count == 1 else { throw TokenError.invalidDPoPProof("send exactly one DPoP header") }
        let now = issuer.now()
        do { return (try DPoPProof.verify(proof, method: "POST", normalizedURL: state.dpopTokenEndpoint, now: now, keys: dpopKeys), now) } catch {
            throw TokenError.invalidDPoPProof("DPoP proof: \(error.reason)")
        }
    }

    private static let dpopOneTimeCheckUnavailable = TokenError.temporarilyUnavailable("the one-time check of the DPoP proof is unavailable")

    private static func thumbprint(_ proof: DPoPProof, fresh: Bool) throws(TokenError) -> String {
        guard fresh else { throw TokenError.invalidDPoPProof("DPoP proof: jti was already used") }
        return proof.thumbprint
    }
}
