import OAuthWire
import Claims
import JSONCore

/// The grants an auth gateway runs with a user (authorization code, implicit, password, refresh token) and
/// then asks `/v1/tokens` to mint for. Order (contract): access-token claims → pre_access_token → sign →
/// ID-token claims (for grants that issue one, with scope `openid`) → pre_id_token → sign.
struct GatewayUserGrant: TokenGrant {
    let grantType: ServiceConfig.GrantType
    var endpoint: GrantEndpoint { .gateway }

    init(_ grantType: ServiceConfig.GrantType) { self.grantType = grantType }

    func issue(_ r: GrantRequest, issuer: Issuer) async throws(TokenError) -> TokenResponse {
        let tokens = try self.tokens(r)
        let issued = try await issuer.accessToken(tokens.access, state: r.state, scope: r.scope)
        var response = TokenResponse(accessToken: issued.token, expiresIn: issued.expiresIn, scope: tokens.access.scope)
        if let id = tokens.id(issued.token) {
            response.idToken = try await issuer.idToken(id, signers: issued.signers, state: r.state, scope: r.scope)
        }
        return response
    }

    func waitsToIssue(_ form: FormParameters, state: ServiceState, issuer: Issuer) -> Bool {
        issuer.runsPipeline(.preAccessToken, state: state) || (grantType.issuesIDToken && issuer.runsPipeline(.preIDToken, state: state))
    }

    func issueNow(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> TokenResponse {
        let tokens = try self.tokens(r)
        let issued = try issuer.accessTokenNow(tokens.access, state: r.state, scope: r.scope)
        var response = TokenResponse(accessToken: issued.token, expiresIn: issued.expiresIn, scope: tokens.access.scope)
        if let id = tokens.id(issued.token) {
            response.idToken = try issuer.idTokenNow(id, signers: issued.signers, state: r.state, scope: r.scope)
        }
        return response
    }

    /// The access token the gateway's user gets, and the ID token that goes with it (for grants that issue one,
    /// with scope `openid`), given the access token it hashes.
    private func tokens(_ r: GrantRequest) throws(TokenError) -> (access: Issuer.AccessTokenRequest, id: (String) -> Issuer.IDTokenRequest?) {
        guard let u = r.gateway else { throw TokenError.invalidRequest("\(grantType.rawValue) is minted by the auth gateway") }
        let (client, state) = (r.client, r.state)
        let scope = try ScopePolicy.grant(requested: u.scope, client: client)
        let audience = try ScopePolicy.audience(requested: u.audience, client: client)
        let context = PipelineContext.user(gatewayContext: u.context, client: client, grantType: grantType.rawValue,
                                           scope: scope, audience: audience, redacting: state.config.pipelineRedactedHeaders)
        let access = Issuer.AccessTokenRequest(client: client, subject: u.subject, scope: scope, audience: audience, user: .object(u.user),
                                               context: context, authTime: u.authTime, acr: u.acr, amr: u.amr, dpopThumbprint: r.dpopThumbprint)
        let issuesIDToken = grantType.issuesIDToken && scope.contains("openid")
        return (access, { accessToken in
            guard issuesIDToken else { return nil }
            return .init(client: client, user: u.user, scope: scope, nonce: u.nonce, authTime: u.authTime, acr: u.acr, amr: u.amr,
                         code: u.code, accessToken: accessToken, context: context)
        })
    }
}

/// The user an auth gateway authenticated, and what it asks the tokens to say about the authentication.
struct GatewayUser: Sendable {
    var user: JSONObject
    var scope: String?
    var audience: String?
    var nonce: String?
    var authTime: Int64?
    var acr: String?
    var amr: [String]?
    var code: String?
    /// The gateway's pipeline context (merged under the service's own members).
    var context: JSONObject

    /// `user.id`, checked non-empty when the request was parsed.
    var subject: String { user["id"]?.stringValue ?? "" }
}
