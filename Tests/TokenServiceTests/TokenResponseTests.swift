import JSONCore
import Testing
@testable import TokenService

/// The token endpoint's success body (RFC 6749 §5.1): written field by field, read back by Jansson.
@Suite struct TokenResponseTests {
    static let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

    static let cases: [(TokenResponse, JSONObject)] = {
        var dpop = TokenResponse(accessToken: token, expiresIn: 300, scope: [])
        dpop.tokenType = "DPoP"
        var exchanged = TokenResponse(accessToken: token, expiresIn: 0, scope: ["a"])
        exchanged.tokenType = "N_A"
        exchanged.issuedTokenType = "urn:ietf:params:oauth:token-type:txn_token"
        var withID = TokenResponse(accessToken: token, expiresIn: 3600, scope: ["openid", "profile"])
        withID.idToken = "id.token.sig"
        let odd = TokenResponse(accessToken: "a\"b\\c\n", expiresIn: Int.max, scope: ["é", "😀"])
        return [
            (TokenResponse(accessToken: token, expiresIn: 3600, scope: ["api:read", "api:write"]),
             ["access_token": .string(token), "token_type": "Bearer", "expires_in": 3600, "scope": "api:read api:write"]),
            (dpop, ["access_token": .string(token), "token_type": "DPoP", "expires_in": 300]),
            (exchanged, ["access_token": .string(token), "issued_token_type": "urn:ietf:params:oauth:token-type:txn_token",
                         "token_type": "N_A", "expires_in": 0, "scope": "a"]),
            (withID, ["access_token": .string(token), "token_type": "Bearer", "expires_in": 3600, "scope": "openid profile",
                      "id_token": "id.token.sig"]),
            (odd, ["access_token": "a\"b\\c\n", "token_type": "Bearer", "expires_in": .int(Int64(Int.max)), "scope": "é 😀"]),
        ]
    }()

    @Test(arguments: cases)
    func bodyIsTheResponseObject(_ response: TokenResponse, _ expected: JSONObject) throws {
        let parsed = try JSON.parse(response.body)
        #expect(parsed == .object(expected))
        #expect(parsed.objectValue?.keys == expected.keys, "RFC 6749's order: access_token first")
    }
}
