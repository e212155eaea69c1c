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

    static func audience(requested: String?, client: RegisteredClient) throws(OAuthError) -> String {
        guard let requested else { return client.config.audiences[0] }
        guard client.config.audiences.contains(requested) else {
            throw OAuthError.invalidTarget("audience \(requested) is not allowed for this client")
        }
        return requested
    }
}
