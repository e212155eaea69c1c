import JSONCore
import Testing
@testable import TokenService

/// The one mapping of domain errors to HTTP (RFC 6749 §5.2, RFC 6750, RFC 9449, RFC 9110).
@Suite struct TokenErrorMappingTests {
    @Test(arguments: [
        (TokenError.invalidRequest("x"), 400, "invalid_request", nil as String?),
        (.invalidScope("x"), 400, "invalid_scope", nil), (.invalidTarget("x"), 400, "invalid_target", nil),
        (.invalidGrant("x"), 400, "invalid_grant", nil), (.unauthorizedClient("x"), 400, "unauthorized_client", nil),
        (.unsupportedGrantType("x"), 400, "unsupported_grant_type", nil), (.invalidDPoPProof("x"), 400, "invalid_dpop_proof", nil),
        (TokenError(.unknownClient, "x"), 400, "invalid_client", nil),
        (.invalidClient(basic: true), 401, "invalid_client", #"Basic realm="tokenservice", charset="UTF-8""#),
        (.invalidClient(basic: false), 401, "invalid_client", nil),
        (TokenError(.invalidToken, "x"), 401, "invalid_token", #"Bearer realm="tokenservice""#),
        (.accessDenied("x"), 403, "access_denied", nil), (TokenError(.bodyTooLarge, "x"), 413, "invalid_request", nil),
        (TokenError(.methodNotAllowed(allow: "POST"), "x"), 405, "invalid_request", nil),
        (.tooManyRequests("x", retryAfter: 0), 429, "too_many_requests", nil), (.serverError("x"), 500, "server_error", nil),
        (.temporarilyUnavailable("x"), 503, "temporarily_unavailable", nil),
    ])
    func statusCodeAndChallenge(_ error: TokenError, status: Int, code: String, challenge: String?) throws {
        #expect(error.status.code == status && error.code == code)
        #expect(error.headers.first(name: "WWW-Authenticate") == challenge)
        let body = try #require(try JSON.parse(error.body).objectValue)
        #expect(body == ["error": .string(code), "error_description": .string(error.errorDescription)])
        if case .tooManyRequests = error.kind { #expect(error.headers.first(name: "Retry-After") == "1", "Retry-After is at least 1 s") }
        if case .methodNotAllowed = error.kind { #expect(error.headers.first(name: "Allow") == "POST") }
    }

    @Test func descriptionsKeepToTheCharactersRFC6749Allows() {
        #expect(TokenError.invalidRequest("a\"b\\c\né").errorDescription == "a b c   ", "each byte outside the set becomes a space")
    }
}
