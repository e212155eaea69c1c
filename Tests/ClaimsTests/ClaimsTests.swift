import Claims
import JOSE
import JSONCore
import Testing

@Suite struct ClaimsTests {
    static let user: JSONObject = [
        "id": "6401", "username": "ada", "email": "ada@example.com", "emailVerified": true,
        "phone": "+15555550100", "phoneVerified": false, "name": "Ada Lovelace", "givenName": "Ada",
        "familyName": "Lovelace", "nickname": "ada", "photo": "https://img.example.com/ada.png", "gender": "F",
        "birthdate": "1815-12-10", "locale": "en-GB", "zoneinfo": "Europe/London", "website": "https://ada.example.com",
        "address": ["formatted": "12 St James's Square, London", "country": "GB", "postalCode": "SW1Y 4JH"],
        "updatedAt": "2026-11-01T10:00:00Z", "company": "Analytical Engines", "customData": ["dept": "R&D"],
    ]

    @Test func scopesReleaseOnlyTheirClaims() {
        let none = StandardClaims.claims(for: Self.user, scopes: ["openid"])
        #expect(none.isEmpty)

        let email = StandardClaims.claims(for: Self.user, scopes: ["openid", "email"])
        #expect(email == ["email": "ada@example.com", "email_verified": true])

        let phone = StandardClaims.claims(for: Self.user, scopes: ["phone"])
        #expect(phone == ["phone_number": "+15555550100", "phone_number_verified": false])

        let profile = StandardClaims.claims(for: Self.user, scopes: ["profile"])
        #expect(profile["picture"] == "https://img.example.com/ada.png")
        #expect(profile["given_name"] == "Ada")
        #expect(profile["family_name"] == "Lovelace")
        #expect(profile["preferred_username"] == "ada")
        #expect(profile["updated_at"] == .int(1_793_527_200))
        #expect(profile["email"] == nil)
        #expect(profile["company"] == nil, "non-standard fields are never released by scope")

        let address = StandardClaims.claims(for: Self.user, scopes: ["address"])
        #expect(address["address"] == ["formatted": "12 St James's Square, London", "country": "GB", "postal_code": "SW1Y 4JH"])
    }

    @Test func idTokenHashesMatchOIDCExample() throws {
        // OpenID Connect Core §A.3/A.4 example: access token and its at_hash for RS256.
        #expect(try TokenHash.halfHash(of: "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", algorithm: .RS256) == "77QmUPtjPfzWtF2AnpK9RQ")
        #expect(try TokenHash.halfHash(of: "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk", algorithm: .RS256) == "LDktKdoQak3Pk0cnXxCltA")
        #expect(try TokenHash.halfHash(of: "x", algorithm: .ES384).count == 32, "24 bytes → 32 base64url characters")
    }

    @Test func registeredClaimsCannotBeTouched() {
        var claims: JSONObject = ["iss": "https://issuer", "sub": "u1", "picture": "p"]
        let ext = ClaimExtensions([.add("iss", "evil"), .add("dept", "R&D"), .remove("sub"), .remove("picture"), .add("exp", 1)])
        let refused = ext.apply(to: &claims)
        #expect(refused == ["iss", "sub", "exp"])
        #expect(claims == ["iss": "https://issuer", "sub": "u1", "dept": "R&D"])
    }

    @Test func accessTokenPayloadIsRFC9068() throws {
        let claims = AccessTokenClaims(issuer: "https://i", subject: "billing", audience: ["https://api"], clientID: "billing",
                                       issuedAt: 100, expiresAt: 3700, jwtID: "j1", scope: ["a", "b"],
                                       extensions: ["tenant": "t1", "iss": "evil"])
        let json = JSON.serializeString(.object(claims.payload))
        #expect(json == #"{"iss":"https://i","sub":"billing","aud":"https://api","client_id":"billing","iat":100,"exp":3700,"jti":"j1","scope":"a b","tenant":"t1"}"#)
    }

    @Test func idTokenPayloadOrderAndContent() {
        let claims = IDTokenClaims(issuer: "https://i", subject: "6401", audience: "web", authorizedParty: "web", issuedAt: 1,
                                   expiresAt: 2, authTime: 0, nonce: "n", acr: "silver", amr: ["pwd"], accessTokenHash: "ah",
                                   codeHash: "ch", standard: ["email": "a@b"], extensions: ["dept": "R&D"])
        #expect(JSON.serializeString(.object(claims.payload))
            == #"{"iss":"https://i","sub":"6401","aud":"web","azp":"web","iat":1,"exp":2,"auth_time":0,"nonce":"n","acr":"silver","amr":["pwd"],"at_hash":"ah","c_hash":"ch","email":"a@b","dept":"R&D"}"#)
    }
}
