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
        guard let u = r.gateway else { throw TokenError.invalidRequest("\(grantType.rawValue) is minted by the auth gateway") }
        let (client, state) = (r.client, r.state)
        let scope = try ScopePolicy.grant(requested: u.scope, client: client)
        let audience = try ScopePolicy.audience(requested: u.audience, client: client)
        let context = PipelineContext.user(gatewayContext: u.context, client: client, grantType: grantType.rawValue,
                                           scope: scope, audience: audience, redacting: state.config.pipelineRedactedHeaders)
        let issued = try await issuer.accessToken(
            .init(client: client, subject: u.subject, scope: scope, audience: audience, user: .object(u.user),
                  context: context, authTime: u.authTime, acr: u.acr, amr: u.amr, dpopThumbprint: r.dpopThumbprint),
            state: state, scope: r.scope)
        var response = TokenResponse(accessToken: issued.token, expiresIn: issued.expiresIn, scope: scope)
        if grantType.issuesIDToken && scope.contains("openid") {
            response.idToken = try await issuer.idToken(
                .init(client: client, user: u.user, scope: scope, nonce: u.nonce, authTime: u.authTime, acr: u.acr, amr: u.amr,
                      code: u.code, accessToken: issued.token, context: context),
                signers: issued.signers, state: state, scope: r.scope)
        }
        return response
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
