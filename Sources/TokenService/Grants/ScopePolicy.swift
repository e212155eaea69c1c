/// Scope and audience decisions shared by every grant (RFC 6749 §3.3, RFC 8707).
enum ScopePolicy {
    /// Requested scopes, de-duplicated in order; absent means the client's registered scopes.
    static func grant(requested: String?, client: RegisteredClient) throws(OAuthError) -> [String] {
        guard let requested else { return client.config.scopes }
        var out: [String] = []
        for token in requested.split(separator: " ", omittingEmptySubsequences: true).map(String.init) {
            guard OAuthSyntax.isScopeToken(token) else { throw OAuthError.invalidScope("scope is malformed") }
            guard client.config.scopes.contains(token) else { throw OAuthError.invalidScope("scope \(token) is not allowed for this client") }
            if !out.contains(token) { out.append(token) }
        }
        return out
    }

    /// `audience` or `resource` (RFC 8707); both are allowed only when they agree.
    static func requestedAudience(audience: String?, resource: String?) throws(OAuthError) -> String? {
        if let audience, let resource, audience != resource { throw OAuthError.invalidRequest("give audience or resource, not both") }
        return audience ?? resource
    }

    static func audience(requested: String?, client: RegisteredClient) throws(OAuthError) -> String {
        guard let requested else { return client.config.audiences[0] }
        guard client.config.audiences.contains(requested) else {
            throw OAuthError.invalidTarget("audience \(requested) is not allowed for this client")
        }
        return requested
    }
}
