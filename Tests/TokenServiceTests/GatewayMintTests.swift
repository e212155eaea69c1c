import Claims
import Foundation
import HTTPTypes
import NIOCore
import JOSE
import JSONCore
import Testing
@testable import TokenService

@Suite struct GatewayMintTests {
    static let user: JSONValue = [
        "id": "6401", "username": "ada", "email": "ada@example.com", "emailVerified": true, "phone": "+15555550100",
        "phoneVerified": false, "name": "Ada Lovelace", "givenName": "Ada", "familyName": "Lovelace", "photo": "https://img/ada.png",
        "address": ["formatted": "London", "country": "GB"], "updatedAt": "2026-11-01T10:00:00Z", "customData": ["dept": "R&D"],
    ]

    func mint(_ client: some TestClientProtocol, _ f: Fixture, _ body: JSONObject, token: String? = nil) async throws -> TestResponse {
        try await client.execute(uri: "/v1/tokens", method: .post,
                                 headers: [.authorization: "Bearer \(token ?? f.gatewayToken)", .contentType: "application/json"],
                                 body: ByteBuffer(bytes: JSON.serialize(.object(body)))) { $0 }
    }

    static let pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = [
        "pre_access_token": [("roles", """
            async function pipe(user, context, callback) {
              if (context.accessTokenTarget === 'user') user.addAccessToken('roles', ['reader']);
              else context.addAccessToken('tenant', context.appName);
              callback(null, user, context);
            }
            """, [:])],
        "pre_id_token": [("dept", """
            async function pipe(user, context, callback) {
              if (!String(user.email).endsWith('@' + env.ALLOWED_DOMAIN)) return callback(new Error('domain not allowed'));
              if (user.username === 'crash') null.boom;
              user.addIdToken('department', user.customData.dept);
              user.addIdToken('iss', 'https://evil.example.com');
              user.removeIdToken('picture');
              callback(null, user, context);
            }
            """, [:])],
    ]

    @Test func idTokenAndAccessTokenInContractOrder() async throws {
        try await Fixture.withRouterClient(pipelines: Self.pipelines) { f, client, core in
            let res = try await mint(client, f, [
                "client_id": "web-app", "grant_type": "authorization_code", "scope": "openid profile email phone address",
                "nonce": "n-0S6_WzA2Mj", "auth_time": 1_763_800_000, "acr": "urn:mace:incommon:iap:silver", "amr": ["pwd", "otp"],
                "code": "SplxlOBeZQQYbYS6WxSbIA", "user": Self.user,
                "context": ["protocol": "oidc", "request": ["ip": "203.0.113.7"]],
            ])
            #expect(res.status == .ok, "\(res.json)")
            let body = res.json
            let verifier = JWSVerifier(keys: core.holder.current.keys.all)
            let accessToken = try #require(body["access_token"]?.stringValue)
            let at = try verifier.verify(accessToken)
            #expect(at.header["typ"] == "at+jwt")
            #expect(at.claims["sub"] == "6401")
            #expect(at.claims["client_id"] == "web-app")
            #expect(at.claims["roles"] == ["reader"])
            #expect(at.claims["auth_time"] == 1_763_800_000)

            let id = try verifier.verify(try #require(body["id_token"]?.stringValue))
            #expect(id.header["typ"] == "JWT")
            let c = id.claims
            #expect(c["iss"] == .string(f.issuer), "a pipeline can never replace iss")
            #expect(c["sub"] == "6401")
            #expect(c["aud"] == "web-app")
            #expect(c["azp"] == "web-app")
            #expect(c["nonce"] == "n-0S6_WzA2Mj")
            #expect(c["auth_time"] == 1_763_800_000)
            #expect(c["acr"] == "urn:mace:incommon:iap:silver")
            #expect(c["amr"] == ["pwd", "otp"])
            #expect(c["at_hash"] == .string(try TokenHash.halfHash(of: accessToken, algorithm: .RS256)))
            #expect(c["c_hash"] == .string(try TokenHash.halfHash(of: "SplxlOBeZQQYbYS6WxSbIA", algorithm: .RS256)))
            #expect(c["email"] == "ada@example.com")
            #expect(c["email_verified"] == true)
            #expect(c["phone_number"] == "+15555550100")
            #expect(c["phone_number_verified"] == false)
            #expect(c["given_name"] == "Ada")
            #expect(c["address"] == ["formatted": "London", "country": "GB"])
            #expect(c["updated_at"] == 1_793_527_200)
            #expect(c["department"] == "R&D")
            #expect(c["picture"] == nil, "the pipeline removed a standard claim")
            #expect(c["customData"] == nil)
        }
    }

    @Test func idTokenOnlyForOpenIDGrants() async throws {
        try await Fixture.withRouterClient { f, client, _ in
            for (grant, scope, expectID) in [("refresh_token", "openid email", false), ("password", "email", false),
                                             ("implicit", "openid", true), ("password", "openid", true)] {
                let res = try await mint(client, f, ["client_id": "web-app", "grant_type": .string(grant), "scope": .string(scope), "user": Self.user])
                #expect(res.status == .ok)
                #expect((res.json["id_token"] != nil) == expectID, "\(grant) \(scope)")
            }
        }
    }

    @Test func gatewayAndRequestErrors() async throws {
        try await Fixture.withRouterClient(pipelines: Self.pipelines) { f, client, _ in
            let good: JSONObject = ["client_id": "web-app", "grant_type": "authorization_code", "scope": "openid", "user": Self.user]
            let noAuth = try await mint(client, f, good, token: "wrong-token-wrong-token")
            #expect(noAuth.status == .unauthorized)
            #expect(noAuth.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)

            var unknown = good; unknown["client_id"] = "ghost"
            #expect(try await mint(client, f, unknown).status == .badRequest)
            var badScope = good; badScope["scope"] = "openid admin"
            let scopeRes = try await mint(client, f, badScope)
            #expect(scopeRes.status == .badRequest)
            #expect(scopeRes.json["error"] == "invalid_scope")
            var badGrant = good; badGrant["grant_type"] = "client_credentials"
            #expect(try await mint(client, f, badGrant).json["error"] == "unsupported_grant_type")
            var m2mOnly = good; m2mOnly["client_id"] = "billing"
            #expect(try await mint(client, f, m2mOnly).json["error"] == "unauthorized_client")
            var noUser = good; noUser["user"] = nil
            #expect(try await mint(client, f, noUser).json["error"] == "invalid_request")
            var extra = good; extra["surprise"] = 1
            #expect(try await mint(client, f, extra).json["error"] == "invalid_request")

            let dup = try await client.execute(uri: "/v1/tokens", method: .post,
                                               headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"client_id":"web-app","client_id":"x"}"#)) { $0 }
            #expect(dup.status == .badRequest)
            #expect(dup.json["error"] == "invalid_request")

            // Pipelines: callback(error) is 403 with its message; a throwing function is 500.
            var evil = good; evil["user"] = ["id": "7", "email": "eve@evil.com"]
            let denied = try await mint(client, f, evil)
            #expect(denied.status == .forbidden)
            #expect(denied.json == ["error": "access_denied", "error_description": "domain not allowed"])
            var crash = good; crash["user"] = ["id": "8", "email": "c@example.com", "username": "crash", "customData": [:]]
            let failed = try await mint(client, f, crash)
            #expect(failed.status == .internalServerError)
            #expect(failed.json["error"] == "server_error")
            #expect(failed.json["error_description"]?.stringValue?.contains("TypeError") == false, "no JS internals leak")
        }
    }

    @Test func m2mPipelineSeesNullUserAndProgrammaticAccount() async throws {
        try await Fixture.withRouterClient(pipelines: Self.pipelines) { f, client, core in
            try await client.execute(uri: "/oauth/token", method: .post, headers: Form.basic("billing", f.billingSecret),
                                     body: Form.encode([("grant_type", "client_credentials")])) { res in
                #expect(res.status == .ok)
                let c = try JWSVerifier(keys: core.holder.current.keys.all).verify(try #require(res.json["access_token"]?.stringValue)).claims
                #expect(c["tenant"] == "Billing")
            }
        }
    }
}
