import Claims
import JOSE
import JSONCore

/// OAuth 2.0 Token Exchange (RFC 8693) for tokens this service issued: impersonation (subject token
/// only) and delegation (with an actor token). Audience and scope are narrowed, never widened; the
/// result is an RFC 9068 access token for the subject with `act` naming who acts (nested for chains).
struct TokenExchangeGrant: Sendable {
    let issuer: Issuer

    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    static let idTokenType = "urn:ietf:params:oauth:token-type:id_token"
    static let jwtType = "urn:ietf:params:oauth:token-type:jwt"
    static let tokenTypes: Set<String> = [accessTokenType, idTokenType, jwtType]

    func issue(client: RegisteredClient, form: FormParameters, dpopThumbprint: String?, state: ServiceState,
               scope requestScope: RequestScope) async throws(OAuthError) -> TokenResponse {
        let subject = try token(form, "subject_token", state: state, required: true)!
        let actor = try token(form, "actor_token", state: state, required: false)

        let requested = try ScopePolicy.requestedAudience(audience: form["audience"], resource: form["resource"])
        if let requested, !client.config.audiences.contains(requested) {
            throw OAuthError.invalidTarget("the audience \(requested) is not one this client may ask for")
        }
        let audience = requested ?? client.config.audiences[0]

        // Within both the subject token's scope and the client's; default: their intersection.
        let subjectScope = (subject["scope"]?.stringValue ?? "").split(separator: " ").map(String.init)
        let allowed = subjectScope.filter { client.config.scopes.contains($0) }
        let scope: [String]
        if let asked = form["scope"] {
            scope = asked.split(separator: " ").map(String.init)
            if let wider = scope.first(where: { !allowed.contains($0) }) {
                throw OAuthError.invalidScope("scope \(wider) is not within the subject token's and the client's scopes")
            }
        } else {
            scope = allowed
        }

        // RFC 8693 §4.1: the current actor first, the subject token's actor (if any) nested inside.
        var act: JSONObject = ["sub": .string(actor?["sub"]?.stringValue ?? client.id)]
        if let prior = subject["act"] { act["act"] = prior }

        var context: JSONObject = ["appId": .string(client.id), "clientId": .string(client.id), "appName": .string(client.displayName),
                                   "grantType": .string(ServiceConfig.GrantType.tokenExchange.rawValue),
                                   "scope": .array(scope.map { .string($0) }), "audience": .string(audience),
                                   "accessTokenTarget": "programmaticAccount", "subjectToken": .object(subject)]
        if let actor { context["actorToken"] = .object(actor) }
        let (token, _) = try await issuer.accessToken(
            .init(client: client, subject: subject["sub"]?.stringValue ?? "", scope: scope, audience: audience, user: .null, context: context,
                  dpopThumbprint: dpopThumbprint, actor: .object(act)),
            state: state, scope: requestScope)
        var response = TokenResponse(accessToken: token, expiresIn: client.config.accessTokenTTL, scope: scope)
        response.issuedTokenType = Self.accessTokenType
        return response
    }

    /// Reads `name` and `name_type` and verifies the token as one this service issued (signature,
    /// issuer, expiry, and the header type its token type implies). Its claims.
    private func token(_ form: FormParameters, _ name: String, state: ServiceState, required: Bool) throws(OAuthError) -> JSONObject? {
        guard let token = form[name] else {
            if required { throw OAuthError.invalidRequest("\(name) is missing") }
            if form[name + "_type"] != nil { throw OAuthError.invalidRequest("\(name)_type is given without \(name)") }
            return nil
        }
        guard let type = form[name + "_type"] else { throw OAuthError.invalidRequest("\(name)_type is missing") }
        guard Self.tokenTypes.contains(type) else { throw OAuthError.invalidRequest("\(name)_type \(type) is not supported") }
        guard let verified = try? JWSVerifier(keys: state.keys.all).verify(token),
              (try? ClaimValidator.token(issuer: state.config.issuer).validate(verified.claims, now: issuer.now())) != nil,
              verified.claims["sub"]?.stringValue?.isEmpty == false
        else { throw OAuthError.invalidGrant("the \(name) is not a valid token of this issuer") }
        let isAccessToken = AccessTokenClaims.isAccessTokenType(verified.header["typ"])
        if type == Self.accessTokenType && !isAccessToken || type == Self.idTokenType && isAccessToken {
            throw OAuthError.invalidGrant("the \(name) is not of type \(type)")
        }
        return verified.claims
    }
}
