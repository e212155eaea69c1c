import Foundation
import JOSE
import JSONCore
import Logging
import OAuthWire
import Testing
@testable import TokenService

/// A token request that waits for nothing is answered on the event loop (`TokenEndpoint.handleNow`), one
/// that may wait by `handle`: both give the same answer, count the same and refuse the same.
@Suite struct TokenEndpointNowTests {
    /// The fixture's clients, with one that must use DPoP and one with a quota of two tokens a minute.
    static func fixture(pipelines: [String: [(name: String, source: String, extra: JSONObject)]] = [:]) throws -> Fixture {
        try Fixture(pipelines: pipelines) { config in
            config.addClient(["client_id": "bound", "client_secret": "bound-secret-0123456789abcdef0123", "grant_types": ["client_credentials"],
                              "scopes": ["a"], "audiences": ["https://api.example.com"], "dpop_bound_access_tokens": true])
            config.addClient(["client_id": "metered", "client_secret": "metered-secret-0123456789abcdef01", "grant_types": ["client_credentials"],
                              "scopes": ["a"], "audiences": ["https://api.example.com"], "rate_limit": ["tokens_per_minute": 2]])
            config.addClient(["client_id": "exchanger", "client_secret": "exchanger-secret-0123456789abcdef", "grant_types": [.string(exchange)],
                              "scopes": ["invoices:read"], "audiences": ["https://downstream.example.com"],
                              "token_exchange": ["subject_audiences": ["https://api.example.com"]], "transaction_tokens": ["allowed": true]])
            config["transaction_tokens"] = ["trust_domains": ["trust.example"], "signing_key": "es-1"]
        }
    }

    enum Proof: Sendable { case none, valid, two, wrongURL }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var basic: (id: String, secret: String)?
        var form: [(String, String)]
        var proof = Proof.none
        /// The form's `subject_token` is a token billing was issued (token exchange).
        var subject = false
        var testDescription: String { name }
    }

    static let exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let exchanger = ("exchanger", "exchanger-secret-0123456789abcdef")
    static let accessTokenType = ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token")

    static let billing = ("billing", "billing-secret-0123456789abcdef0123")
    /// The cases that issue a token; every other one is refused.
    static let issuing: Set = ["basic", "post", "audience", "DPoP bound", "exchange", "exchange, DPoP bound", "Txn-Token"]
    static let cases: [Case] = [
        Case(name: "basic", basic: billing, form: [("grant_type", "client_credentials"), ("scope", "invoices:read")]),
        Case(name: "post", form: [("grant_type", "client_credentials"), ("client_id", "billing"), ("client_secret", billing.1)]),
        Case(name: "audience", basic: billing, form: [("grant_type", "client_credentials"), ("audience", "https://other.example.com")]),
        Case(name: "wrong secret", basic: ("billing", "nope"), form: [("grant_type", "client_credentials")]),
        Case(name: "unknown client", basic: ("nobody", "nope"), form: [("grant_type", "client_credentials")]),
        Case(name: "two methods", basic: billing, form: [("grant_type", "client_credentials"), ("client_secret", billing.1)]),
        Case(name: "no client", form: [("grant_type", "client_credentials")]),
        Case(name: "no grant_type", basic: billing, form: [("scope", "invoices:read")]),
        Case(name: "unsupported grant", basic: billing, form: [("grant_type", "urn:example:nothing")]),
        Case(name: "grant not allowed", basic: ("web-app", "web-secret-0123456789abcdef0123456789"), form: [("grant_type", "client_credentials")]),
        Case(name: "scope not allowed", basic: billing, form: [("grant_type", "client_credentials"), ("scope", "admin")]),
        Case(name: "audience not allowed", basic: billing, form: [("grant_type", "client_credentials"), ("audience", "https://evil.example")]),
        Case(name: "DPoP bound", basic: billing, form: [("grant_type", "client_credentials")], proof: .valid),
        Case(name: "DPoP required, none sent", basic: ("bound", "bound-secret-0123456789abcdef0123"), form: [("grant_type", "client_credentials")]),
        Case(name: "two DPoP proofs", basic: billing, form: [("grant_type", "client_credentials")], proof: .two),
        Case(name: "DPoP proof for another URL", basic: billing, form: [("grant_type", "client_credentials")], proof: .wrongURL),
        Case(name: "exchange", basic: exchanger, form: [("grant_type", exchange), accessTokenType, ("scope", "invoices:read")], subject: true),
        Case(name: "exchange, DPoP bound", basic: exchanger, form: [("grant_type", exchange), accessTokenType], proof: .valid, subject: true),
        Case(name: "exchange beyond the caller's scopes", basic: exchanger, form: [("grant_type", exchange), accessTokenType, ("scope", "invoices:write")],
             subject: true),
        Case(name: "exchange of no token", basic: exchanger, form: [("grant_type", exchange), accessTokenType, ("subject_token", "not.a.token")]),
        Case(name: "exchange by a client without the grant", basic: billing, form: [("grant_type", exchange), accessTokenType], subject: true),
        Case(name: "Txn-Token", basic: exchanger, form: [("grant_type", exchange), ("requested_token_type", txnTokenType), accessTokenType,
                                                         ("audience", "trust.example"), ("scope", "invoices:read"), ("request_context", #"{"req_ip":"192.0.2.1"}"#)],
             subject: true),
        Case(name: "Txn-Token for another trust domain", basic: exchanger,
             form: [("grant_type", exchange), ("requested_token_type", txnTokenType), accessTokenType, ("audience", "elsewhere"), ("scope", "invoices:read")],
             subject: true),
        Case(name: "Txn-Token beyond the subject's scope", basic: exchanger,
             form: [("grant_type", exchange), ("requested_token_type", txnTokenType), accessTokenType, ("audience", "trust.example"), ("scope", "admin")],
             subject: true),
    ]
    static let txnTokenType = "urn:ietf:params:oauth:token-type:txn_token"

    /// What a request was answered, comparable across two services with the same keys and clock: the
    /// token's header and claims without its own id, or the error.
    enum Outcome: Equatable {
        case issued(TokenResponse, header: JSONObject, claims: JSONObject)
        case refused(TokenError)
    }

    static func request(_ c: Case, issuer: String, address: String, subjectToken: String? = nil) throws -> TokenEndpoint.Request {
        let authorization = c.basic.map { "Basic " + Data("\($0.id):\($0.secret)".utf8).base64EncodedString() }
        let form = c.form + (c.subject ? [("subject_token", subjectToken ?? "")] : [])
        let body = Array(form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&").utf8)
        let dpopKey = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: nil)
        let proofs: [String]
        switch c.proof {
        case .none: proofs = []
        case .valid: proofs = [try dpopKey.dpopProof(htu: issuer + "/oauth/token")]
        case .two: proofs = [try dpopKey.dpopProof(htu: issuer + "/oauth/token"), try dpopKey.dpopProof(htu: issuer + "/oauth/token")]
        case .wrongURL: proofs = [try dpopKey.dpopProof(htu: "https://elsewhere.example/oauth/token")]
        }
        return TokenEndpoint.Request(form: try FormParameters(body: body), authorization: authorization, dpop: proofs,
                                     info: RequestInfo(remoteIP: address, headers: { [] }))
    }

    static func outcome(_ result: Result<TokenResponse, TokenError>, core: ServiceCore) throws -> Outcome {
        switch result {
        case .failure(let error):
            return .refused(error)
        case .success(var response):
            let verified = try JWSVerifier(keys: core.holder.current.keys.all).verify(response.accessToken)
            var claims = verified.claims
            // Each token's own id: `jti`, or a Txn-Token's `txn`.
            let id = claims["jti"] == nil ? "txn" : "jti"
            #expect(claims[id]?.stringValue?.isEmpty == false)
            claims[id] = nil
            response.accessToken = ""
            return .issued(response, header: verified.header, claims: claims)
        }
    }

    /// Two services of one fixture (same keys, clients and clock) that have counted nothing yet: one asked
    /// the waiting way, one the immediate way.
    static func twoServices(_ body: (Fixture, _ waiting: ServiceCore, _ immediate: ServiceCore, RequestScope) async throws -> Void) async throws {
        let f = try Self.fixture()
        defer { f.cleanUp() }
        let now = Int64(Date().timeIntervalSince1970)
        let (_, waiting, e1) = try await f.application(now: now)
        let (_, immediate, e2) = try await f.application(now: now)
        defer { e1.shutdown(); e2.shutdown() }
        let scope = RequestScope(logger: Logger(label: "test"))
        try await body(f, waiting, immediate, scope)
    }

    @Test(arguments: cases) func bothWaysGiveTheSameAnswer(_ c: Case) async throws {
        try await Self.twoServices { f, waiting, immediate, scope in
            let state = waiting.holder.current
            let subject = try await waiting.tokenEndpoint(scope).handle(try Self.request(Self.cases[0], issuer: f.issuer, address: "192.0.2.2"), state: state)
            let r = try Self.request(c, issuer: f.issuer, address: "192.0.2.1", subjectToken: subject.accessToken)

            let waited: Result<TokenResponse, TokenError>
            do throws(TokenError) { waited = .success(try await waiting.tokenEndpoint(scope).handle(r, state: state)) } catch { waited = .failure(error) }
            let immediately: Result<TokenResponse, TokenError>
            do {
                let answered = try immediate.tokenEndpoint(scope).handleNow(r, state: immediate.holder.current)
                immediately = .success(try #require(answered, "a client_secret request with no pipeline and this process's memory does not wait"))
            } catch let error as TokenError { immediately = .failure(error) }
            let outcome = try Self.outcome(waited, core: waiting)
            #expect(try Self.outcome(immediately, core: immediate) == outcome)
            if case .issued = outcome { #expect(Self.issuing.contains(c.name)) } else { #expect(!Self.issuing.contains(c.name), "\(outcome)") }
        }
    }

    static let mints: [(name: String, body: String, issues: Bool)] = [
        ("code flow with openid", #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid email","nonce":"n-1","code":"c-1","auth_time":1700000000,"amr":["pwd"],"user":{"id":"u-1","email":"ada@example.com","email_verified":true}}"#, true),
        ("password without openid", #"{"client_id":"web-app","grant_type":"password","scope":"invoices:read","user":{"id":"u-2"}}"#, true),
        ("bound to the key the gateway checked", #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid","dpop_jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I","user":{"id":"u-3"}}"#, true),
        ("a grant the client may not use", #"{"client_id":"billing","grant_type":"authorization_code","user":{"id":"u-4"}}"#, false),
        ("an unknown client", #"{"client_id":"nobody","grant_type":"authorization_code","user":{"id":"u-5"}}"#, false),
        ("client_credentials is not minted here", #"{"client_id":"billing","grant_type":"client_credentials","user":{"id":"u-6"}}"#, false),
        ("a scope the client may not have", #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid admin","user":{"id":"u-7"}}"#, false),
    ]

    @Test(arguments: mints) func gatewayMintsTheSameBothWays(_ mint: (name: String, body: String, issues: Bool)) async throws {
        try await Self.twoServices { f, waiting, immediate, scope in
            let r = try GatewayMint.parse(Array(mint.body.utf8))
            let info = RequestInfo(remoteIP: "192.0.2.3", headers: { [] })
            var outcomes: [Outcome] = []
            var idTokens: [JSONObject] = []
            for (core, waits) in [(waiting, true), (immediate, false)] {
                do {
                    let response: TokenResponse
                    if waits {
                        response = try await core.gatewayMint(scope).handle(r, info: info, state: core.holder.current, scope: scope)
                    } else {
                        response = try #require(try core.gatewayMint(scope).handleNow(r, info: info, state: core.holder.current, scope: scope), "\(mint.name)")
                    }
                    if let id = response.idToken { idTokens.append(try JWSVerifier(keys: core.holder.current.keys.all).verify(id).claims) }
                    var withoutID = response
                    withoutID.idToken = response.idToken.map { _ in "" }
                    outcomes.append(try Self.outcome(.success(withoutID), core: core))
                } catch let error as TokenError { outcomes.append(.refused(error)) }
            }
            #expect(outcomes[0] == outcomes[1], "\(mint.name)")
            if case .issued = outcomes[0] { #expect(mint.issues, "\(mint.name)") } else { #expect(!mint.issues, "\(mint.name): \(outcomes[0])") }
            // ID tokens: the same claims but at_hash, which hashes each side's own access token.
            #expect(idTokens.count == 0 || idTokens.count == 2)
            if idTokens.count == 2 {
                let (a, b) = (idTokens[0].filter { $0.key != "at_hash" }, idTokens[1].filter { $0.key != "at_hash" })
                #expect(JSONObject(a.map { ($0.key, $0.value) }) == JSONObject(b.map { ($0.key, $0.value) }))
                #expect(idTokens[0]["nonce"] == (mint.name == "code flow with openid" ? "n-1" : nil))
            }
        }
    }

    @Test func theQuotaAndTheFailureLimitsCountTheSameEitherWay() async throws {
        let f = try Self.fixture()
        defer { f.cleanUp() }
        let (_, core, engine) = try await f.application()
        defer { engine.shutdown() }
        let scope = RequestScope(logger: Logger(label: "test"))
        let state = core.holder.current
        let metered = Case(name: "metered", basic: ("metered", "metered-secret-0123456789abcdef01"), form: [("grant_type", "client_credentials")])
        // Two tokens a minute: one each way, then neither way issues a third.
        _ = try #require(try core.tokenEndpoint(scope).handleNow(try Self.request(metered, issuer: f.issuer, address: "192.0.2.7"), state: state))
        _ = try await core.tokenEndpoint(scope).handle(try Self.request(metered, issuer: f.issuer, address: "192.0.2.7"), state: state)
        #expect(throws: TokenError.self) { _ = try core.tokenEndpoint(scope).handleNow(try Self.request(metered, issuer: f.issuer, address: "192.0.2.7"), state: state) }
        await #expect(throws: TokenError.self) {
            _ = try await core.tokenEndpoint(scope).handle(try Self.request(metered, issuer: f.issuer, address: "192.0.2.7"), state: state)
        }
        // Failed authentications from one address, half each way, reach the per-client limit (10): then the right
        // secret from that address is refused both ways, 429.
        let wrong = Case(name: "wrong", basic: ("billing", "nope"), form: [("grant_type", "client_credentials")])
        for i in 0..<10 {
            let r = try Self.request(wrong, issuer: f.issuer, address: "192.0.2.8")
            if i.isMultiple(of: 2) {
                #expect(throws: TokenError.invalidClient(basic: true)) { _ = try core.tokenEndpoint(scope).handleNow(r, state: state) }
            } else {
                await #expect(throws: TokenError.invalidClient(basic: true)) { _ = try await core.tokenEndpoint(scope).handle(r, state: state) }
            }
        }
        let right = try Self.request(Self.cases[0], issuer: f.issuer, address: "192.0.2.8")
        var refusals: [TokenError] = []
        do { _ = try core.tokenEndpoint(scope).handleNow(right, state: state) } catch { refusals.append(error) }
        do { _ = try await core.tokenEndpoint(scope).handle(right, state: state) } catch { refusals.append(error) }
        #expect(refusals.count == 2)
        for error in refusals {
            guard case .tooManyRequests = error.kind else { Issue.record("expected 429, got \(error)"); continue }
        }
    }

    @Test func aRequestThatMayWaitIsLeftToTheWaitingPath() async throws {
        // A pre_access_token pipeline: issuing waits for the engine.
        let f = try Self.fixture(pipelines: ["pre_access_token": [(name: "tag", source: "async function pipe(user, context, callback) { callback(null, user, context); }", extra: [:])]])
        defer { f.cleanUp() }
        let (_, core, engine) = try await f.application()
        defer { engine.shutdown() }
        let scope = RequestScope(logger: Logger(label: "test"))
        let state = core.holder.current
        #expect(try core.tokenEndpoint(scope).handleNow(try Self.request(Self.cases[0], issuer: f.issuer, address: "192.0.2.9"), state: state) == nil)
        // A client assertion (private_key_jwt): its jti is remembered in the shared state, which may be Redis.
        let plain = try Self.fixture()
        defer { plain.cleanUp() }
        let (_, plainCore, plainEngine) = try await plain.application()
        defer { plainEngine.shutdown() }
        let assertion = try plain.batchAssertion(audience: plain.issuer + "/oauth/token")
        let withAssertion = Case(name: "assertion", form: [("grant_type", "client_credentials"), ("client_assertion_type", ClientAuthenticator.assertionType),
                                                           ("client_assertion", assertion)])
        #expect(try plainCore.tokenEndpoint(scope).handleNow(try Self.request(withAssertion, issuer: plain.issuer, address: "192.0.2.9"),
                                                              state: plainCore.holder.current) == nil)
        // Nothing was counted on the way: the waiting path then issues, once.
        _ = try await plainCore.tokenEndpoint(scope).handle(try Self.request(withAssertion, issuer: plain.issuer, address: "192.0.2.9"), state: plainCore.holder.current)
    }
}
