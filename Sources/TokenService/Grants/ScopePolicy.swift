import OAuthWire

/// Scope and audience decisions shared by every grant (RFC 6749 §3.3, RFC 8707).
enum ScopePolicy {
    /// A `scope` parameter (RFC 6749 §3.3): scope tokens, de-duplicated in order.
    static func parse(_ requested: String) throws(TokenError) -> [String] {
        var out: [String] = []
        // Split on the byte (RFC 6749 §3.3: scope-tokens are ASCII, separated by %x20), not on Characters.
        for bytes in requested.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true) {
            let token = String(Substring(bytes))
            guard OAuthSyntax.isScopeToken(token) else { throw TokenError.invalidScope("scope is malformed") }
            if !out.contains(token) { out.append(token) }
        }
        return out
    }

    /// Requested scopes, de-duplicated in order; absent means the client's registered scopes.
    static func grant(requested: String?, client: RegisteredClient) throws(TokenError) -> [String] {
        guard let requested else { return client.config.scopes }
        let asked = try parse(requested)
        if let other = asked.first(where: { !client.config.scopes.contains($0) }) {
            throw TokenError.invalidScope("scope \(other) is not allowed for this client")
        }
        return asked
    }

    /// Requested scopes within `allowed` (narrowing only); absent means all of `allowed`.
    static func narrow(requested: String?, within allowed: [String], what: String) throws(TokenError) -> [String] {
        guard let requested else { return allowed }
        return try narrow(try parse(requested), within: allowed, what: what)
    }

    /// Parsed scopes, each within `allowed`.
    static func narrow(_ asked: [String], within allowed: [String], what: String) throws(TokenError) -> [String] {
        if let wider = asked.first(where: { !allowed.contains($0) }) {
            throw TokenError.invalidScope("scope \(wider) is not within \(what)")
        }
        return asked
    }

    /// `audience` or `resource` (RFC 8707); both are allowed only when they agree.
    static func requestedAudience(audience: String?, resource: String?) throws(TokenError) -> String? {
        if let audience, let resource, audience != resource { throw TokenError.invalidRequest("give audience or resource, not both") }
        return audience ?? resource
    }

    static func audience(requested: String?, client: RegisteredClient) throws(TokenError) -> String {
        guard let requested else { return client.config.audiences[0] }
        guard client.config.audiences.contains(requested) else {
            throw TokenError.invalidTarget("audience \(requested) is not allowed for this client")
        }
        return requested
    }
}
