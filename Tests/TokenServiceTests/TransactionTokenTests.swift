import Foundation
import HTTPTypes
import JOSE
import JSONCore
import Testing
import Claims
import TokenVerifier
@testable import TokenService

/// Transaction Tokens (draft-ietf-oauth-transaction-tokens-10): issuance, every refusal the draft asks
/// for, replacement rules and the `pre_transaction_token` pipeline.
@Suite struct TransactionTokenTests {
    static let urn = TransactionTokenClaims.tokenTypeURN
    static let exchange = TokenExchangeTests.urn
    static let accessType = TokenExchangeTests.accessType
    static let domain = "trust.example"

    /// "gateway" and "svc-a" may ask for Txn-Tokens (signed with es-1) for two trust domains; "exchanger" may not.
    static func withTTS(pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = [:],
                        _ body: @escaping @Sendable (Fixture, any TestClientProtocol, ServiceCore) async throws -> Void) async throws {
        try await TokenExchangeTests.withExchanger(pipelines: pipelines, mutate: { config in
            config["transaction_tokens"] = ["trust_domains": [.string(domain), "other-domain.example"], "ttl_seconds": 60, "signing_key": "es-1"]
            for id in ["gateway", "svc-a"] {
                config.addClient(["client_id": .string(id), "client_secret": "billing-secret-0123456789abcdef0123",
                                  "grant_types": [.string(exchange)], "audiences": ["https://api.example.com"],
                                  "token_exchange": ["subject_audiences": ["https://api.example.com"]],
                                  "transaction_tokens": ["allowed": true]])
            }
        }, body)
    }

    static func request(_ client: some TestClientProtocol, _ f: Fixture, as id: String = "gateway", _ params: [(String, String)]) async throws
        -> (HTTPResponse.Status, JSONObject)
    {
        try await TokenExchangeTests.exchange(client, f, as: id, [("requested_token_type", urn)] + params)
    }

    /// A Txn-Token for billing's access token, with request context and details.
    static func txnToken(_ client: some TestClientProtocol, _ f: Fixture, scope: String = "invoices:read") async throws -> String {
        let subject = try await TokenExchangeTests.token(client, f)
        let (status, body) = try await request(client, f, [("subject_token", subject), ("subject_token_type", accessType),
                                                            ("audience", domain), ("scope", scope),
                                                            ("request_context", #"{"req_ip":"69.151.72.123","authn":"pwd"}"#),
                                                            ("request_details", #"{"action":"BUY","ticker":"MSFT","quantity":"100"}"#)])
        #expect(status == .ok, "\(body)")
        return try #require(body["access_token"]?.stringValue)
    }

    @Test func issuesATxnTokenExactlyAsTheDraftSays() async throws {
        try await Self.withTTS { f, client, core in
            let subject = try await TokenExchangeTests.token(client, f)
            let subjectClaims = try TokenEndpointTests.verify(subject, core).claims
            let before = Int64(Date().timeIntervalSince1970)
            let (status, body) = try await Self.request(client, f, [
                ("subject_token", subject), ("subject_token_type", Self.accessType), ("audience", Self.domain), ("scope", "invoices:read"),
                ("request_context", #"{"req_ip":"69.151.72.123","authn":"pwd"}"#),
                ("request_details", #"{"action":"BUY","ticker":"MSFT","quantity":"100"}"#)])
            #expect(status == .ok, "\(body)")
            // §9.4: token_type N_A, the token in access_token, issued_token_type the txn_token URN, no refresh token.
            #expect(body["token_type"] == "N_A")
            #expect(body["issued_token_type"] == .string(Self.urn))
            #expect(body["refresh_token"] == nil)
            let token = try #require(body["access_token"]?.stringValue)
            let v = try TokenEndpointTests.verify(token, core)
            #expect(v.header["typ"] == "txntoken+jwt")
            #expect(v.header["alg"] == "ES256" && v.header["kid"] == "es-1")
            let c = v.claims
            #expect(c["aud"] == .string(Self.domain))
            #expect(c["iss"] == .string(f.issuer))
            #expect(c["sub"] == "billing")
            #expect(c["scope"] == "invoices:read")
            #expect(c["req_wl"] == "gateway")
            #expect(c["rctx"] == ["req_ip": "69.151.72.123", "authn": "pwd"])
            #expect(c["tctx"] == ["action": "BUY", "ticker": "MSFT", "quantity": "100"])
            #expect((c["txn"]?.stringValue?.count ?? 0) >= 32)
            #expect(c["cnf"] == nil && c["act"] == nil && c["client_id"] == nil)
            let iat = try #require(c["iat"]?.intValue), exp = try #require(c["exp"]?.intValue)
            #expect(before...Int64(Date().timeIntervalSince1970) ~= iat)
            #expect(exp - iat == 60, "transaction_tokens.ttl_seconds")
            #expect(exp <= (subjectClaims["exp"]?.intValue ?? 0))
            #expect(body["expires_in"] == .int(exp - iat))
            // The subject token is never copied into the Txn-Token (§12.4).
            #expect(!JSON.serializeString(.object(c)).contains(subject))
            // Every Txn-Token has its own transaction id.
            let second = try await Self.txnToken(client, f)
            #expect(try TokenEndpointTests.verify(second, core).claims["txn"] != c["txn"])
        }
    }

    @Test func refusals() async throws {
        try await Self.withTTS { f, client, core in
            let subject = try await TokenExchangeTests.token(client, f)
            let state = core.holder.current
            let now = Int64(Date().timeIntervalSince1970)
            let rs = try #require(state.keys.signers(for: nil)).accessToken
            let expired = try rs.sign(claims: ["iss": .string(f.issuer), "sub": "billing", "aud": "https://api.example.com",
                                               "exp": .int(now - 600), "scope": "invoices:read"])
            let hmac = try JWSSigner(key: try #require(state.keys.all["hs-1"]), typ: "at+jwt")
                .sign(claims: ["iss": .string(f.issuer), "sub": "admin", "aud": "https://api.example.com", "exp": .int(now + 600), "scope": "invoices:read"])
            let foreign = try JWSSigner(key: try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "es-1"), typ: "at+jwt")
                .sign(claims: ["iss": .string(f.issuer), "sub": "admin", "aud": "https://api.example.com", "exp": .int(now + 600), "scope": "invoices:read"])
            let notForGateway = try await TokenExchangeTests.token(client, f, audience: "https://other.example.com")
            let txn = try await Self.txnToken(client, f)
            let ok: [(String, String)] = [("subject_token", subject), ("subject_token_type", Self.accessType), ("audience", Self.domain),
                                          ("scope", "invoices:read")]
            func with(_ changes: [(String, String?)]) -> [(String, String)] {
                var params = ok
                for (name, value) in changes {
                    params.removeAll { $0.0 == name }
                    if let value { params.append((name, value)) }
                }
                return params
            }
            let cases: [(String, String, [(String, String)], HTTPResponse.Status, String)] = [
                ("no audience", "gateway", with([("audience", nil)]), .badRequest, "invalid_request"),
                ("audience not a trust domain", "gateway", with([("audience", "https://api.example.com")]), .badRequest, "invalid_target"),
                ("resource instead of audience", "gateway", with([("resource", Self.domain)]), .badRequest, "invalid_request"),
                ("no scope", "gateway", with([("scope", nil)]), .badRequest, "invalid_request"),
                ("wider scope", "gateway", with([("scope", "invoices:read reports:read")]), .badRequest, "invalid_scope"),
                ("unknown scope", "gateway", with([("scope", "made-up")]), .badRequest, "invalid_scope"),
                ("refresh token", "gateway", with([("subject_token_type", "urn:ietf:params:oauth:token-type:refresh_token")]), .badRequest, "invalid_request"),
                ("unsigned json", "gateway", with([("subject_token", #"{"sub":"admin"}"#),
                                                   ("subject_token_type", "urn:ietf:params:oauth:token-type:unsigned_json")]), .badRequest, "invalid_request"),
                ("self-signed", "gateway", with([("subject_token_type", "urn:ietf:params:oauth:token-type:self_signed")]), .badRequest, "invalid_request"),
                ("expired subject", "gateway", with([("subject_token", expired)]), .badRequest, "invalid_grant"),
                ("HMAC-signed subject", "gateway", with([("subject_token", hmac)]), .badRequest, "invalid_grant"),
                ("foreign key", "gateway", with([("subject_token", foreign)]), .badRequest, "invalid_grant"),
                ("subject not for the caller", "gateway", with([("subject_token", notForGateway)]), .badRequest, "invalid_grant"),
                ("Txn-Token as an access token", "gateway", with([("subject_token", txn)]), .badRequest, "invalid_grant"),
                ("access token as a Txn-Token", "gateway", with([("subject_token_type", Self.urn)]), .badRequest, "invalid_grant"),
                ("request_details not an object", "gateway", with([("request_details", "[1,2]")]), .badRequest, "invalid_request"),
                ("request_context not JSON", "gateway", with([("request_context", "{oops")]), .badRequest, "invalid_request"),
                ("actor token", "gateway", with([("actor_token", subject), ("actor_token_type", Self.accessType)]), .badRequest, "invalid_request"),
                ("client not allowed", "exchanger", ok, .badRequest, "unauthorized_client"),
            ]
            for (name, caller, params, status, error) in cases {
                let (got, body) = try await Self.request(client, f, as: caller, params)
                #expect(got == status && body["error"] == .string(error), "\(name): \(got) \(body)")
                #expect(body["access_token"] == nil, "\(name)")
            }
            // Without requested_token_type txn_token, token exchange never turns a Txn-Token into an access token.
            let (status, body) = try await TokenExchangeTests.exchange(client, f, [("subject_token", txn), ("subject_token_type", Self.accessType)])
            #expect(status == .badRequest && body["error"] == "invalid_grant", "\(body)")
            let other = try await TokenExchangeTests.exchange(client, f, [("subject_token", subject), ("subject_token_type", Self.accessType),
                                                                          ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")])
            #expect(other.0 == .badRequest && other.1["error"] == "invalid_request", "\(other.1)")
        }
    }

    @Test func aTxnTokenIsNeitherIntrospectedNorAnAccessToken() async throws {
        try await Self.withTTS { f, client, core in
            let discovery = try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { $0.json }
            #expect(discovery["transaction_token_trust_domains"] == [.string(Self.domain), "other-domain.example"])
            #expect(discovery["token_exchange_requested_token_types_supported"]?.arrayValue?.contains(.string(Self.urn)) == true)
            #expect(discovery["grant_types_supported"]?.arrayValue?.contains(.string(Self.exchange)) == true)
            let txn = try await Self.txnToken(client, f)
            let answer = try await client.execute(uri: "/oauth/introspect", method: .post, headers: Form.basic("gateway", f.billingSecret),
                                                  body: Form.encode([("token", txn)])) { $0.json }
            #expect(answer == ["active": false])
        }
    }

    @Test func replacementKeepsTheTransactionAndOnlyNarrows() async throws {
        try await Self.withTTS { f, client, core in
            let original = try await Self.txnToken(client, f, scope: "invoices:read invoices:write")
            let o = try TokenEndpointTests.verify(original, core).claims
            func replace(_ extra: [(String, String)], audience: String = Self.domain, token: String? = nil) async throws -> (HTTPResponse.Status, JSONObject) {
                try await Self.request(client, f, as: "svc-a", [("subject_token", token ?? original), ("subject_token_type", Self.urn),
                                                                ("audience", audience)] + extra)
            }
            let (status, body) = try await replace([("scope", "invoices:read"), ("request_details", #"{"ticker":"MSFT","risk":"low"}"#)])
            #expect(status == .ok, "\(body)")
            #expect(body["token_type"] == "N_A" && body["issued_token_type"] == .string(Self.urn))
            let r = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core).claims
            #expect(r["txn"] == o["txn"] && r["sub"] == o["sub"] && r["aud"] == o["aud"], "txn, sub and aud are kept")
            #expect(r["scope"] == "invoices:read")
            #expect(r["req_wl"] == "gateway,svc-a", "the replacing workload follows the original requester")
            #expect(r["rctx"] == o["rctx"])
            #expect(r["tctx"] == ["action": "BUY", "ticker": "MSFT", "quantity": "100", "risk": "low"], "tctx only gains members")

            let wider = try await replace([("scope", "invoices:read reports:read")])
            #expect(wider.0 == .badRequest && wider.1["error"] == "invalid_scope", "\(wider.1)")
            let changed = try await replace([("scope", "invoices:read"), ("request_details", #"{"quantity":"100000"}"#)])
            #expect(changed.0 == .badRequest && changed.1["error"] == "invalid_request", "\(changed.1)")
            let changedContext = try await replace([("scope", "invoices:read"), ("request_context", #"{"req_ip":"10.0.0.1"}"#)])
            #expect(changedContext.0 == .badRequest && changedContext.1["error"] == "invalid_request", "\(changedContext.1)")
            let otherDomain = try await replace([("scope", "invoices:read")], audience: "other-domain.example")
            #expect(otherDomain.0 == .badRequest && otherDomain.1["error"] == "invalid_target", "\(otherDomain.1)")
            let noScope = try await replace([])
            #expect(noScope.0 == .badRequest && noScope.1["error"] == "invalid_request", "\(noScope.1)")

            // Never after the Txn-Token it replaces has expired.
            let signer = try #require(core.holder.current.keys.transactionTokenSigner)
            var expiredClaims = try TransactionTokenClaims(claims: o)
            expiredClaims.expiresAt = Int64(Date().timeIntervalSince1970) - 1
            let expired = try await replace([("scope", "invoices:read")], token: try signer.sign(claims: expiredClaims.payload))
            #expect(expired.0 == .badRequest && expired.1["error"] == "invalid_grant", "\(expired.1)")
            // A Txn-Token signed by anyone else is not one to replace.
            let forged = try JWSSigner(key: try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "es-1"),
                                       typ: TransactionTokenClaims.type).sign(claims: o)
            let refused = try await replace([("scope", "invoices:read")], token: forged)
            #expect(refused.0 == .badRequest && refused.1["error"] == "invalid_grant", "\(refused.1)")
        }
    }

    /// What a workload's `TransactionTokenVerifier` accepts (§10.2): a Txn-Token of its trust domain, signed by a
    /// key of the JWKS, not expired — never an access token, a token of another trust domain or a tampered one.
    @Test func theWorkloadVerifierChecksWhatTheDraftAsks() async throws {
        try await Self.withTTS { f, client, core in
            let jwks = Data(core.holder.current.keys.jwksJSON)
            let keys = JWKSCache(configuration: .init(url: URL(string: "http://tts.invalid/jwks")!)) { _ in (jwks, "max-age=600") }
            let now = Int64(Date().timeIntervalSince1970)
            let ours = TransactionTokenVerifier(trustDomain: Self.domain, issuer: f.issuer, keys: keys)
            let token = try await Self.txnToken(client, f)
            let verified = try await ours.verify(token, now: now)
            #expect(verified.claims.subject == "billing" && verified.claims.requestingWorkloads == ["gateway"])
            #expect(verified.claims.transactionContext["ticker"] == "MSFT" && verified.scopes == ["invoices:read"])
            #expect(verified.compact == token)

            let otherDomain = TransactionTokenVerifier(trustDomain: "other-domain.example", issuer: f.issuer, keys: keys)
            await #expect(throws: TokenVerificationFailure.self) { _ = try await otherDomain.verify(token, now: now) }
            await #expect(throws: TokenVerificationFailure.claims("the token expired")) { _ = try await ours.verify(token, now: now + 3600) }
            let accessToken = try await TokenExchangeTests.token(client, f)
            await #expect(throws: TokenVerificationFailure.wrongType("txntoken+jwt")) { _ = try await ours.verify(accessToken, now: now) }
            var parts = token.split(separator: ".").map(String.init)
            parts[1] = Base64URL.encode(Array(#"{"aud":"trust.example","sub":"admin","txn":"x","scope":"invoices:read","req_wl":"gateway","iat":\#(now),"exp":\#(now + 60)}"#.utf8))
            await #expect(throws: TokenVerificationFailure.signature) { _ = try await ours.verify(parts.joined(separator: "."), now: now) }
            // And an access-token verifier never takes a Txn-Token.
            let api = AccessTokenVerifier(issuer: f.issuer, audiences: [Self.domain, "https://api.example.com"], keys: keys)
            await #expect(throws: TokenVerificationFailure.wrongType("at+jwt")) { _ = try await api.verify(token, now: now) }
        }
    }

    static let pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = ["pre_transaction_token": [
        (name: "risk", source: """
            async function pipe(user, context, callback) {
              if (context.request.body.scope === 'invoices:write') return callback(new Error('writes need a human approval'));
              context.addTxnContext('risk', context.transactionToken.sub === 'billing' ? 'low' : 'high');
              context.addTxnContext('ticker', 'OVERRIDE');
              context.addTxnContext('sub', 'not the subject');
              user === null && context.addToken('sub', 'admin');
              callback(null, user, context);
            }
            """, extra: [:]),
    ]]

    @Test func thePipelineAddsToTctxOnly() async throws {
        try await Self.withTTS(pipelines: Self.pipelines) { f, client, core in
            let token = try await Self.txnToken(client, f)
            let c = try TokenEndpointTests.verify(token, core).claims
            #expect(c["sub"] == "billing", "addToken is not valid in pre_transaction_token")
            // A first Txn-Token: the TTS (its pipeline) decides tctx, request_details included.
            #expect(c["tctx"] == ["action": "BUY", "ticker": "OVERRIDE", "quantity": "100", "risk": "low", "sub": "not the subject"])

            // A replacement: members already asserted stay as they are.
            let (status, body) = try await Self.request(client, f, as: "svc-a", [("subject_token", token), ("subject_token_type", Self.urn),
                                                                                 ("audience", Self.domain), ("scope", "invoices:read")])
            #expect(status == .ok, "\(body)")
            let r = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core).claims
            #expect(r["tctx"] == c["tctx"])

            // callback(error) refuses issuance.
            let subject = try await TokenExchangeTests.token(client, f)
            let denied = try await Self.request(client, f, [("subject_token", subject), ("subject_token_type", Self.accessType),
                                                            ("audience", Self.domain), ("scope", "invoices:write")])
            #expect(denied.0 == .forbidden && denied.1["error"] == "access_denied", "\(denied.1)")
            #expect(denied.1["error_description"] == "writes need a human approval")
        }
    }

    @Test(arguments: [
        (#"{"transaction_tokens": {"trust_domains": []}}"#, "trust_domains"),
        (#"{"transaction_tokens": {"trust_domains": ["d"], "signing_key": "hs-1"}}"#, "HMAC key"),
        (#"{"transaction_tokens": {"trust_domains": ["d"], "signing_key": "nope"}}"#, "no active asymmetric key"),
        (#"{"transaction_tokens": {"trust_domains": ["d"], "ttl_seconds": 0}}"#, "ttl_seconds"),
        (#"{"clients+": {"transaction_tokens": {"allowed": true}}}"#, "needs the top-level"),
        (#"{"transaction_tokens": {"trust_domains": ["d"]}, "clients+": {"client_id": "a,b", "transaction_tokens": {"allowed": true}}}"#, "no \",\""),
    ])
    func configMistakes(_ json: String, _ expected: String) async throws {
        let patch = try #require(try JSON.parse(Array(json.utf8)).objectValue)
        let f = try Fixture { config in
            for (k, v) in patch {
                if k == "clients+" {
                    var client: JSONObject = ["client_id": "gw", "client_secret": "billing-secret-0123456789abcdef0123",
                                              "grant_types": ["client_credentials"], "audiences": ["https://api.example.com"]]
                    for (ck, cv) in v.objectValue ?? [:] { client[ck] = cv }
                    config.addClient(client)
                } else {
                    config[k] = v
                }
            }
        }
        defer { f.cleanUp() }
        #expect(throws: ConfigError.self) { _ = try ConfigLoader.load(path: f.configPath, environment: [:]) }
        do { _ = try ConfigLoader.load(path: f.configPath, environment: [:]) } catch {
            #expect(error.problems.contains { $0.contains(expected) }, "\(error.problems)")
        }
    }
}
