import Foundation
import JSONCore
import Testing
@testable import TokenService

/// A GenAuth function using lodash, ported unchanged, through the service and through `pipeline test`;
/// a config whose function requires an unknown module is refused by `config check`.
@Suite struct GenAuthPortTests {
    static let groups = """
        const _ = require('lodash');
        async function pipe(user, context, callback) {
          user.addIdToken('groups', _.sortBy(_.uniq(_.map(_.get(user, 'customData.groups', []), _.toLower))));
          callback(null, user, context);
        }
        """

    @Test func throughTheServiceAndPipelineTest() async throws {
        try await Fixture.withRouterClient(pipelines: ["pre_id_token": [(name: "groups", source: Self.groups, extra: [:])]]) { f, client, core in
            let body = #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid","user":{"id":"u","customData":{"groups":["Ops","ops","Dev"]}}}"#
            let minted = try await client.execute(uri: "/v1/tokens", method: .post,
                                                  headers: [.authorization: "Bearer \(f.gatewayToken)", .contentType: "application/json"],
                                                  body: .init(string: body)) { $0.json }
            let idToken = try TokenEndpointTests.verify(try #require(minted["id_token"]?.stringValue, "\(minted)"), core)
            #expect(idToken.claims["groups"] == ["dev", "ops"])

            let userFile = f.dir.appendingPathComponent("user.json").path
            try Data(#"{"id":"u","customData":{"groups":["B","a","b"]}}"#.utf8).write(to: URL(fileURLWithPath: userFile))
            let test = try await EndToEndTests.run(EndToEndTests.binary, ["pipeline", "test", "--config", f.configPath, "--trigger", "pre_id_token",
                                                                    "--user", userFile])
            #expect(test.status == 0 && test.output.contains(#"["a","b"]"#), "\(test.output)")
        }
    }

    @Test func configCheckRefusesAnUnknownModule() async throws {
        let f = try Fixture(pipelines: ["pre_access_token": [(name: "fs", source: "const fs = require('fs');\nfunction pipe(u, c, cb) { cb(null, u, c); }", extra: [:])]])
        defer { f.cleanUp() }
        let check = try await EndToEndTests.run(EndToEndTests.binary, ["config", "check", f.configPath])
        #expect(check.status != 0 && check.output.contains("require('fs')"), "\(check.output)")
    }

    /// `pipeline test --client` builds the context the service builds; async functions run only when the
    /// synchronous ones allowed the token; exit 0 allowed, 2 refused.
    @Test func pipelineTestBuildsTheServiceContext() async throws {
        let seen = """
            async function pipe(user, context, callback) {
              context.addAccessToken('seen', [context.clientId, context.appName, context.grantType, context.scope, context.audience,
                                              context.request.ip, context.accessTokenTarget]);
              if (context.clientId === 'es-client') return callback(new Error('not this one'));
              callback(null, user, context);
            }
            """
        let notify = "async function pipe(user, context, callback) { log('notified'); callback(null, user, context); }"
        let f = try Fixture(pipelines: ["pre_access_token": [(name: "seen", source: seen, extra: [:]), (name: "notify", source: notify, extra: ["async": true])]])
        defer { f.cleanUp() }
        let allowed = try await EndToEndTests.run(EndToEndTests.binary, ["pipeline", "test", "--config", f.configPath, "--trigger", "pre_access_token",
                                                                   "--client", "billing"])
        #expect(allowed.status == 0, "\(allowed.output)")
        let out = try #require(try JSON.parse(allowed.output).objectValue)
        #expect(out["claims"]?.objectValue?["seen"] == ["billing", "Billing", "client_credentials", ["invoices:read", "invoices:write"],
                                                         "https://api.example.com", "127.0.0.1", "programmaticAccount"])
        #expect(out["async"]?.objectValue?["logs"]?.arrayValue?.count == 1, "\(out)")
        let refused = try await EndToEndTests.run(EndToEndTests.binary, ["pipeline", "test", "--config", f.configPath, "--trigger", "pre_access_token",
                                                                   "--client", "es-client"])
        #expect(refused.status == 2, "\(refused.output)")
        let r = try #require(try JSON.parse(refused.output).objectValue)
        #expect(r["async"]?.objectValue?["outcome"] == "not run: the token was refused" && r["async"]?.objectValue?["logs"] == [])
        let unknown = try await EndToEndTests.run(EndToEndTests.binary, ["pipeline", "test", "--config", f.configPath, "--trigger", "pre_access_token",
                                                                   "--client", "nobody"])
        #expect(unknown.status == 1 && unknown.output.contains("unknown client"))
    }
}
