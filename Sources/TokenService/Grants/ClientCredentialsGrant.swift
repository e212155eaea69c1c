import OAuthWire
import HTTPTypes
import JSONCore
import Pipeline

/// OAuth 2.0 client_credentials (RFC 6749 §4.4) issuing RFC 9068 access tokens. The pipeline sees
/// `user = null` and `context.accessTokenTarget = "programmaticAccount"`.
struct ClientCredentialsGrant: Sendable {
    let issuer: Issuer

    struct RequestInfo: Sendable {
        var remoteIP: String
        var headers: HTTPFields
    }

    /// Issues for an already authenticated client (also `tokenservice mint`).
    func issue(client: RegisteredClient, form: FormParameters, info: RequestInfo, dpopThumbprint: String? = nil,
               state: ServiceState, scope requestScope: RequestScope) async throws(OAuthError) -> TokenResponse {
        let scope = try ScopePolicy.grant(requested: form["scope"], client: client)
        let requested = try ScopePolicy.requestedAudience(audience: form["audience"], resource: form["resource"])
        let audience = try ScopePolicy.audience(requested: requested, client: client)
        // The pipeline context is only built when there is a pipeline to see it.
        let context = state.pipelines[.preAccessToken] == nil ? [:]
            : PipelineContext.oauth(grantType: ServiceConfig.GrantType.clientCredentials.rawValue, client: client, scope: scope,
                                    audience: audience, form: form, info: info, redacting: state.config.pipelineRedactedHeaders)
        let issued = try await issuer.accessToken(
            .init(client: client, subject: client.id, scope: scope, audience: audience, user: .null, context: context,
                  dpopThumbprint: dpopThumbprint),
            state: state, scope: requestScope)
        return TokenResponse(accessToken: issued.token, expiresIn: issued.expiresIn, scope: scope)
    }
}
