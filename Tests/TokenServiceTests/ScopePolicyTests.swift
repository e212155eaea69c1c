import Testing
@testable import TokenService

/// RFC 6749 §3.3: a scope is scope-tokens of %x21 / %x23-5B / %x5D-7E separated by spaces.
@Suite struct ScopePolicyTests {
    @Test(arguments: [("api:read", ["api:read"]), ("a b a", ["a", "b"]), ("  a   b ", ["a", "b"]), ("", []), ("   ", []),
                      ("openid profile email", ["openid", "profile", "email"]), ("x!#[]~", ["x!#[]~"])])
    func scopesSplitOnSpacesAndDeduplicateInOrder(_ requested: String, _ scopes: [String]) throws {
        #expect(try ScopePolicy.parse(requested) == scopes)
    }

    @Test(arguments: ["a\tb", "a \u{301}b", "a\"b", "a\\b", "caf\u{E9}", "a\nb", "a\u{0}b", "a\u{A0}b"])
    func malformedScopesAreRefused(_ requested: String) {
        #expect(throws: TokenError.self, "\(requested.debugDescription)") { try ScopePolicy.parse(requested) }
    }
}
