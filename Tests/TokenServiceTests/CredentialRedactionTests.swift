import Foundation
import HTTPTypes
import JOSE
import JSONCore
import Pipeline
import Testing
@testable import TokenService

/// Credentials never reach pipeline input, and outbound-call log lines never carry a webhook's path.
@Suite struct CredentialRedactionTests {
    @Test func pipelinesNeverSeeCredentialHeaders() async throws {
        let fn = """
            function pipe(user, context, callback) {
              context.addAccessToken('headers', Object.keys(context.request.headers).map(function (h) { return h.toLowerCase(); }).sort());
              callback(null, user, context);
            }
            """
        try await Fixture.withRouterClient(pipelines: ["pre_access_token": [(name: "h", source: fn, extra: [:])]], mutate: { config in
            var pipelines = config["pipelines"]?.objectValue ?? [:]
            pipelines["redact_headers"] = ["X-Api-Key"]
            config["pipelines"] = .object(pipelines)
        }) { f, client, core in
            let key = try JWSKey(evp: try EVPKey.generateEC(curve: "P-256"), algorithm: .ES256, kid: "p")
            var headers = Form.basic("billing", f.billingSecret)
            headers[.dpop] = try key.dpopProof(htu: core.holder.current.tokenEndpoint)
            headers[.cookie] = "session=abc"
            headers[HTTPField.Name("X-Api-Key")!] = "k-123"
            headers[HTTPField.Name("X-Trace")!] = "t-1"
            let body = try await client.execute(uri: "/oauth/token", method: .post, headers: headers,
                                                body: Form.encode([("grant_type", "client_credentials")])) { $0.json }
            let token = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
            let seen = token.claims["headers"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(seen.contains("x-trace") && seen.contains("content-type"), "\(seen)")
            for credential in ["authorization", "dpop", "cookie", "x-api-key"] { #expect(!seen.contains(credential), "\(credential) reached the pipeline") }
        }
    }

    @Test func gatewayContextHeadersLoseCredentialsToo() async throws {
        let fn = """
            function pipe(user, context, callback) {
              user.addAccessToken('headers', Object.keys(context.request.headers).sort());
              callback(null, user, context);
            }
            """
        try await Fixture.withRouterClient(pipelines: ["pre_access_token": [(name: "h", source: fn, extra: [:])]]) { f, client, core in
            let request = #"{"client_id":"web-app","grant_type":"password","user":{"id":"u"},"context":{"request":{"headers":{"Authorization":"Bearer x","DPoP":"p","Cookie":"c","X-Trace":"t"}}}}"#
            let body = try await client.execute(uri: "/v1/tokens", method: .post,
                                                headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                                body: .init(string: request)) { $0.json }
            let token = try TokenEndpointTests.verify(try #require(body["access_token"]?.stringValue), core)
            #expect(token.claims["headers"] == ["X-Trace"])
        }
    }

    @Test func outboundCallsAreLoggedWithoutTheirPath() {
        let call = PipelineHTTPCall(function: 0, method: "POST", url: "https://hooks.slack.com:443/services/T000/B000/XXXXSECRET", status: 200,
                                    error: nil, milliseconds: 12)
        let meta = call.logMetadata(functionName: "notify")
        let text = meta.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        #expect(!text.contains("XXXXSECRET") && !text.contains("/services"), "\(text)")
        #expect(meta["origin"] == "https://hooks.slack.com:443")
        #expect("\(meta["path_sha256"] ?? "")".count == 16)
        let other = PipelineHTTPCall(function: 0, method: "POST", url: "https://hooks.slack.com:443/services/T000/B000/OTHER", status: 200,
                                     error: nil, milliseconds: 1).logMetadata(functionName: "notify")
        #expect(other["path_sha256"] != meta["path_sha256"], "different paths are told apart")
    }
}
