import OAuthWire
import JSONCore
import Pipeline

/// OAuth 2.0 client_credentials (RFC 6749 §4.4) issuing RFC 9068 access tokens. The pipeline sees
/// `user = null` and `context.accessTokenTarget = "programmaticAccount"`.
struct ClientCredentialsGrant: AccessTokenGrant {
    var grantType: ServiceConfig.GrantType { .clientCredentials }
    var endpoint: GrantEndpoint { .token }

    /// The token the client may have: its scope and audience checked against what it asked for.
    func accessTokenRequest(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> Issuer.AccessTokenRequest {
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
}
