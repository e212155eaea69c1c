import OAuthWire
import JSONCore
import Pipeline

/// OAuth 2.0 client_credentials (RFC 6749 §4.4) issuing RFC 9068 access tokens. The pipeline sees
/// `user = null` and `context.accessTokenTarget = "programmaticAccount"`.
struct ClientCredentialsGrant: TokenGrant {
    var grantType: ServiceConfig.GrantType { .clientCredentials }
    var endpoint: GrantEndpoint { .token }

    /// Issues for an already authenticated client (also `tokenservice mint`).
    func issue(_ r: GrantRequest, issuer: Issuer) async throws(TokenError) -> TokenResponse {
        let token = try tokenRequest(r, issuer: issuer)
        return response(try await issuer.accessToken(token, state: r.state, scope: r.scope), token)
    }

    func waitsToIssue(_ form: FormParameters, state: ServiceState, issuer: Issuer) -> Bool { issuer.runsPipeline(.preAccessToken, state: state) }

    func issueNow(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> TokenResponse {
        let token = try tokenRequest(r, issuer: issuer)
        return response(try issuer.accessTokenNow(token, state: r.state, scope: r.scope), token)
    }

    /// The token the client may have: its scope and audience checked against what it asked for.
    private func tokenRequest(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> Issuer.AccessTokenRequest {
        let (client, form, state) = (r.client, r.form, r.state)
        let scope = try ScopePolicy.grant(requested: form["scope"], client: client)
        let requested = try ScopePolicy.requestedAudience(audience: form["audience"], resource: form["resource"])
        let audience = try ScopePolicy.audience(requested: requested, client: client)
        // The pipeline context is only built when there is a pipeline to see it.
        let context = !issuer.runsPipeline(.preAccessToken, state: state) ? [:]
            : PipelineContext.oauth(grantType: grantType.rawValue, client: client, scope: scope,
                                    audience: audience, form: form, info: r.info, redacting: state.config.pipelineRedactedHeaders)
        return .init(client: client, subject: client.id, scope: scope, audience: audience, user: .null, context: context,
                     dpopThumbprint: r.dpopThumbprint)
    }

    private func response(_ issued: Issuer.IssuedAccessToken, _ request: Issuer.AccessTokenRequest) -> TokenResponse {
        TokenResponse(accessToken: issued.token, expiresIn: issued.expiresIn, scope: request.scope)
    }
}
