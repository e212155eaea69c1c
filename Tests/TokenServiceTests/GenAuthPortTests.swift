import Foundation
import HummingbirdTesting
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
            let test = try EndToEndTests.run(EndToEndTests.binary, ["pipeline", "test", "--config", f.configPath, "--trigger", "pre_id_token",
                                                                    "--user", userFile])
            #expect(test.status == 0 && test.output.contains(#"["a","b"]"#), "\(test.output)")
        }
    }

    @Test func configCheckRefusesAnUnknownModule() throws {
        let f = try Fixture(pipelines: ["pre_access_token": [(name: "fs", source: "const fs = require('fs');\nfunction pipe(u, c, cb) { cb(null, u, c); }", extra: [:])]])
        defer { f.cleanUp() }
        let check = try EndToEndTests.run(EndToEndTests.binary, ["config", "check", f.configPath])
        #expect(check.status != 0 && check.output.contains("require('fs')"), "\(check.output)")
    }
}
