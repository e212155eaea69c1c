import JSONCore
import Testing
@testable import TokenService

/// The grant registry is the one list of grants: the token endpoint dispatches through it, discovery lists it.
@Suite struct GrantRegistryTests {
    @Test func oneHandlerPerGrantAndDiscoveryFromTheRegistry() async throws {
        let registry = GrantRegistry.standard
        let names = registry.grantTypes.map(\.rawValue)
        #expect(Set(names).count == names.count, "one handler per grant")
        for grant in registry.grants {
            #expect(registry.handler(for: grant.grantType.rawValue, at: grant.endpoint)?.grantType == grant.grantType)
        }
        #expect(registry.grantTypes(at: .token) == [.clientCredentials, .tokenExchange])
        #expect(registry.grantTypes(at: .gateway) == [.authorizationCode, .implicit, .password, .refreshToken])
        #expect(registry.handler(for: "authorization_code", at: .token) == nil, "gateway grants are minted at /v1/tokens, not here")
        #expect(registry.handler(for: "client_credentials", at: .gateway) == nil, "a gateway cannot mint client_credentials tokens")
        try await Fixture.withRouterClient(mutate: { config in
            config.addClient(["client_id": "exchanger", "client_secret": "billing-secret-0123456789abcdef0123",
                              "grant_types": [.string(TokenExchangeTests.urn)], "audiences": ["https://api.example.com"]])
        }) { _, client, _ in
            let discovery = try await client.execute(uri: "/.well-known/openid-configuration", method: .get) { $0.json }
            let listed = discovery["grant_types_supported"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(listed == ["client_credentials", TokenExchangeTests.urn, "authorization_code", "implicit", "password", "refresh_token"],
                    "registry order, every grant some client has: \(listed)")
        }
    }
}
