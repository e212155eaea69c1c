import OAuthWire
import Foundation
import HTTPTypes
import NIOCore
import JOSE
import JSONCore
import Testing
@testable import TokenService

@Suite struct TokenEndpointTests {
    static func verify(_ token: String, _ core: ServiceCore) throws -> VerifiedJWS {
        try JWSVerifier(keys: core.holder.current.keys.all).verify(token)
    }

    @Test func clientCredentialsBasicIssuesRFC9068Token() async throws {
        try await Fixture.withRouterClient { f, client, core in
            let before = Int64(Date().timeIntervalSince1970)
            try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic("billing", f.billingSecret),
                                     body: Form.encode([("grant_type", "client_credentials"), ("scope", "invoices:read")])) { res in
                #expect(res.status == .ok)
                #expect(res.headers[.cacheControl] == "no-store")
                #expect(res.headers[.pragma] == "no-cache")
                #expect(res.headers[.contentType] == "application/json")
                let body = res.json
                #expect(body["token_type"] == "Bearer")
                #expect(body["expires_in"] == 3600)
                #expect(body["scope"] == "invoices:read")
                #expect(body["refresh_token"] == nil)
                let v = try Self.verify(try #require(body["access_token"]?.stringValue), core)
                #expect(v.header["typ"] == "at+jwt")
                #expect(v.header["alg"] == "RS256")
                #expect(v.header["kid"] == "rs-1")
                let c = v.claims
                #expect(c["iss"] == .string(f.issuer))
                #expect(c["sub"] == "billing")
                #expect(c["client_id"] == "billing")
                #expect(c["aud"] == "https://api.example.com")
                #expect(c["scope"] == "invoices:read")
                let iat = try #require(c["iat"]?.intValue), exp = try #require(c["exp"]?.intValue)
                #expect(exp - iat == 3600)
                #expect(before...Int64(Date().timeIntervalSince1970) ~= iat, "iat is the time of issue")
                #expect((c["jti"]?.stringValue?.count ?? 0) >= 16)
            }
        }
    }

    @Test func clientSecretPostDefaultScopesAudienceAndPerClientKeys() async throws {
        try await Fixture.withRouterClient { f, client, core in
            var jtis = Set<String>()
            for _ in 0..<3 {
                try await client.execute(uri: "/oauth/token", method: .post, headers: Form.headers,
                                         body: Form.encode([("grant_type", "client_credentials"), ("client_id", "billing"),
                                                            ("client_secret", f.billingSecret), ("audience", "https://other.example.com")])) { res in
                    #expect(res.status == .ok)
                    #expect(res.json["scope"] == "invoices:read invoices:write")
                    let c = try Self.verify(try #require(res.json["access_token"]?.stringValue), core).claims
                    #expect(c["aud"] == "https://other.example.com")
                    jtis.insert(c["jti"]?.stringValue ?? "")
                }
            }
            #expect(jtis.count == 3, "jti is unique per token")
            // HS256 client (post only) and ES256 client.
            try await client.execute(uri: "/oauth/token", method: .post, headers: Form.headers,
                                     body: Form.encode([("grant_type", "client_credentials"), ("client_id", "hs-client"), ("client_secret", f.billingSecret)])) { res in
                #expect(res.status == .ok)
                #expect(res.json["expires_in"] == 60)
                let v = try Self.verify(try #require(res.json["access_token"]?.stringValue), core)
                #expect(v.header["alg"] == "HS256")
            }
            try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic("es-client", f.billingSecret),
                                     body: Form.encode([("grant_type", "client_credentials")])) { res in
                let v = try Self.verify(try #require(res.json["access_token"]?.stringValue), core)
                #expect(v.header["alg"] == "ES256")
            }
        }
    }

    func expectError(_ client: some TestClientProtocol, headers: HTTPFields = Form.headers, body: ByteBuffer, method: HTTPRequest.Method = .post,
                     uri: String = "/oauth/token", status: HTTPResponse.Status, code: String, description: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        try await client.execute(uri: uri, method: method, headers: headers, body: body) { res in
            #expect(res.status == status, sourceLocation: sourceLocation)
            #expect(res.json["error"] == .string(code), sourceLocation: sourceLocation)
            #expect(res.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
            #expect(res.headers[.cacheControl] == "no-store", sourceLocation: sourceLocation)
            if let description { #expect(res.json["error_description"]?.stringValue?.contains(description) == true, "\(res.json)", sourceLocation: sourceLocation) }
            return res
        }
    }

    @Test func errorsAreRFC6749Shaped() async throws {
        let f = try Fixture()
        defer { f.cleanUp() }
        let (app, _, engine) = try await f.application()
        defer { engine.shutdown() }
        let cc = ("grant_type", "client_credentials")
        try await app.test { client in
            // Unknown client and wrong secret: same status, body and header.
            let unknown = try await expectError(client, headers: Form.basic("nobody", f.billingSecret), body: Form.encode([cc]),
                                                status: .unauthorized, code: "invalid_client")
            let wrong = try await expectError(client, headers: Form.basic("billing", "wrong-secret"), body: Form.encode([cc]),
                                              status: .unauthorized, code: "invalid_client")
            #expect(unknown.body == wrong.body)
            #expect(unknown.headers[.wwwAuthenticate] == wrong.headers[.wwwAuthenticate])
            #expect(wrong.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            _ = try await expectError(client, body: Form.encode([cc, ("client_id", "billing"), ("client_secret", "nope")]),
                                      status: .unauthorized, code: "invalid_client")
            // hs-client only allows client_secret_post.
            _ = try await expectError(client, headers: Form.basic("hs-client", f.billingSecret), body: Form.encode([cc]),
                                      status: .unauthorized, code: "invalid_client")
            _ = try await expectError(client, body: Form.encode([cc]), status: .unauthorized, code: "invalid_client")
            // Two methods at once; a repeated parameter; missing or unsupported grant.
            _ = try await expectError(client, headers: Form.basic("billing", f.billingSecret),
                                      body: Form.encode([cc, ("client_secret", f.billingSecret)]), status: .badRequest, code: "invalid_request")
            _ = try await expectError(client, headers: Form.basic("billing", f.billingSecret), body: Form.encode([cc, cc]),
                                      status: .badRequest, code: "invalid_request", description: "repeated")
            _ = try await expectError(client, headers: Form.basic("billing", f.billingSecret), body: Form.encode([]),
                                      status: .badRequest, code: "invalid_request", description: "grant_type")
            _ = try await expectError(client, headers: Form.basic("billing", f.billingSecret), body: Form.encode([("grant_type", "password")]),
                                      status: .badRequest, code: "unsupported_grant_type")
            _ = try await expectError(client, headers: Form.basic("billing", f.billingSecret), body: Form.encode([cc, ("scope", "invoices:read admin")]),
                                      status: .badRequest, code: "invalid_scope", description: "admin")
            _ = try await expectError(client, headers: Form.basic("billing", f.billingSecret), body: Form.encode([cc, ("audience", "https://evil.example.com")]),
                                      status: .badRequest, code: "invalid_target")
            _ = try await expectError(client, headers: Form.basic("web-app", f.webSecret), body: Form.encode([cc]),
                                      status: .badRequest, code: "unauthorized_client")
            _ = try await expectError(client, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{}"),
                                      status: .badRequest, code: "invalid_request", description: "Content-Type")
            _ = try await expectError(client, body: ByteBuffer(string: "grant_type=%zz"), status: .badRequest, code: "invalid_request")
            _ = try await expectError(client, body: ByteBuffer(string: "a=" + String(repeating: "x", count: 70_000)),
                                      status: .contentTooLarge, code: "invalid_request")
            _ = try await expectError(client, body: ByteBuffer(), method: .get, status: .methodNotAllowed, code: "invalid_request")
            _ = try await expectError(client, headers: [.authorization: "Basic !!!", .contentType: "application/x-www-form-urlencoded"], body: Form.encode([cc]), status: .unauthorized, code: "invalid_client")
        }
    }

    func assertion(_ f: Fixture, claims: JSONObject) throws -> String {
        try JWSSigner(key: f.batchKey, typ: "JWT").sign(claims: claims)
    }

    @Test func privateKeyJWTWithReplayProtection() async throws {
        let f = try Fixture()
        defer { f.cleanUp() }
        let (app, _, engine) = try await f.application()
        defer { engine.shutdown() }
        let now = Int64(Date().timeIntervalSince1970)
        let type = ("client_assertion_type", ClientAuthenticator.assertionType)
        try await app.test { client in
            func post(_ a: String, status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                try await client.execute(uri: "/oauth/token", method: .post, headers: Form.headers,
                                         body: Form.encode([("grant_type", "client_credentials"), type, ("client_assertion", a)])) { res in
                    #expect(res.status == status, "\(res.json)", sourceLocation: sourceLocation)
                }
            }
            let good: JSONObject = ["iss": "batch", "sub": "batch", "aud": .string(f.issuer + "/oauth/token"), "exp": .int(now + 60), "jti": "j-1"]
            let a = try assertion(f, claims: good)
            try await post(a, status: .ok)
            try await post(a, status: .unauthorized)  // replayed jti
            var issuerAud = good; issuerAud["jti"] = "j-2"; issuerAud["aud"] = .array([.string(f.issuer)])
            try await post(try assertion(f, claims: issuerAud), status: .ok)
            var wrongAud = good; wrongAud["jti"] = "j-3"; wrongAud["aud"] = "https://elsewhere"
            try await post(try assertion(f, claims: wrongAud), status: .unauthorized)
            var expired = good; expired["jti"] = "j-4"; expired["exp"] = .int(now - 120)
            try await post(try assertion(f, claims: expired), status: .unauthorized)
            var noJti = good; noJti["jti"] = nil
            try await post(try assertion(f, claims: noJti), status: .unauthorized)
            var subMismatch = good; subMismatch["jti"] = "j-5"; subMismatch["sub"] = "billing"
            try await post(try assertion(f, claims: subMismatch), status: .unauthorized)
            // Signed by another key.
            let other = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "batch-1")
            var forged = good; forged["jti"] = "j-6"
            try await post(try JWSSigner(key: other, typ: "JWT").sign(claims: forged), status: .unauthorized)
            try await post("not.a.jwt", status: .unauthorized)
        }
    }
}

/// The Authorization header's base64 (RFC 4648 §4, padded), decoded without Foundation.
@Suite struct BasicCredentialsDecodingTests {
    @Test func rfc4648Vectors() {
        for (text, plain) in [("", ""), ("Zg==", "f"), ("Zm8=", "fo"), ("Zm9v", "foo"), ("Zm9vYg==", "foob"),
                              ("Zm9vYmE=", "fooba"), ("Zm9vYmFy", "foobar"), (" Zm9v\t", "foo"), ("+/+/", "\u{FB}\u{FF}\u{BF}")] {
            let decoded = BasicCredentials.decodeBase64(Array(text.utf8))
            if plain == "\u{FB}\u{FF}\u{BF}" { #expect(decoded == [0xFB, 0xFF, 0xBF]) } else { #expect(decoded == Array(plain.utf8), "\(text)") }
        }
        for bad in ["Zg", "Zg=", "Z===", "Zm9-", "Zm9_", "Zg==Zg==", "Zh==", "Zm 9v", "===="] {
            #expect(BasicCredentials.decodeBase64(Array(bad.utf8)) == nil, "\(bad)")
        }
    }

    @Test func parseBasicSplitsAtTheFirstColonAndFormDecodes() {
        #expect(BasicCredentials.parse("Basic " + "my%20app:s%3Acret:x".base64) ?? ("", "") == ("my app", "s:cret:x"))
        #expect(BasicCredentials.parse("basic " + "a:b".base64) ?? ("", "") == ("a", "b"))
        #expect(BasicCredentials.parse("Basic " + ":secret".base64) == nil)
        #expect(BasicCredentials.parse("Basic !!!!") == nil)
        #expect(BasicCredentials.parse("Bearer " + "a:b".base64) == nil)
    }

    /// The scheme is case-insensitive, after any leading blanks, and one or more blanks end it.
    @Test(arguments: [("BASIC YTpi", true), ("  Basic   YTpi ", true), ("bAsIc YTpi", true), ("Basic", false), ("Basic ", false),
                      ("BasicYTpi", false), ("Basic\tYTpi", false), ("Basis YTpi", false), ("Bas YTpi", false), ("", false),
                      ("Basic\u{0}YTpi", false), ("BasiC:YTpi", false), ("Ba\u{E9}ic YTpi", false)])
    func theSchemeAndItsBlanks(_ header: String, _ parses: Bool) {
        let parsed = BasicCredentials.parse(header)
        #expect((parsed != nil) == parses, "\(header)")
        if parses { #expect(parsed ?? ("", "") == ("a", "b")) }
    }
}

@Test func contentTypeMediaTypeIgnoresParametersCaseAndBlanks() {
    #expect(ServiceResponder.mediaType("application/x-www-form-urlencoded") == "application/x-www-form-urlencoded")
    #expect(ServiceResponder.mediaType(" Application/X-WWW-Form-URLEncoded ; charset=UTF-8") == "application/x-www-form-urlencoded")
    #expect(ServiceResponder.mediaType("\tapplication/json;x=1") == "application/json")
    #expect(ServiceResponder.mediaType("") == "")
    #expect(ServiceResponder.mediaType(";") == "")
}

private extension String {
    var base64: String { Data(utf8).base64EncodedString() }
}
