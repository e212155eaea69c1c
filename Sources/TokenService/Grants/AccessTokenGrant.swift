import OAuthWire

/// A grant that issues one access token through the issuer (client credentials, token exchange): each says
/// which token a request may have; issuing it is the same for all — with `pre_access_token` when one runs,
/// which is then the only wait.
protocol AccessTokenGrant: TokenGrant {
    /// The token the request may have, checked; nothing is issued yet.
    func accessTokenRequest(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> Issuer.AccessTokenRequest
    /// The `issued_token_type` of the answer (RFC 8693 §2.2.1), when the grant names one.
    var issuedTokenType: String? { get }
}

extension AccessTokenGrant {
    var issuedTokenType: String? { nil }

    func issue(_ r: GrantRequest, issuer: Issuer) async throws(TokenError) -> TokenResponse {
        let token = try accessTokenRequest(r, issuer: issuer)
        return response(try await issuer.accessToken(token, state: r.state, scope: r.scope), token)
    }

    func waitsToIssue(_ form: FormParameters, state: ServiceState, issuer: Issuer) -> Bool { issuer.runsPipeline(.preAccessToken, state: state) }

    func issueNow(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> TokenResponse {
        let token = try accessTokenRequest(r, issuer: issuer)
        return response(try issuer.accessTokenNow(token, state: r.state, scope: r.scope), token)
    }

    private func response(_ issued: Issuer.IssuedAccessToken, _ request: Issuer.AccessTokenRequest) -> TokenResponse {
        var response = TokenResponse(accessToken: issued.token, expiresIn: issued.expiresIn, scope: request.scope)
        response.issuedTokenType = issuedTokenType
        return response
    }
}
