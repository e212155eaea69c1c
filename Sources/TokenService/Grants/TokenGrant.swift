import OAuthWire

/// One grant at the token endpoint (ory/fosite's handler per grant): the `grant_type` it answers, and how
/// it issues for a client that has authenticated and is allowed that grant. A new grant is one file
/// implementing this and one line in `GrantRegistry.standard`.
protocol TokenGrant: Sendable {
    var grantType: ServiceConfig.GrantType { get }
    func issue(_ request: GrantRequest, issuer: Issuer) async throws(TokenError) -> TokenResponse
}

/// What a grant is given: the authenticated client, the form, what the request carried, the DPoP key the
/// token is bound to (a verified, unused proof), the state it was read with and the request's scope.
struct GrantRequest: Sendable {
    var client: RegisteredClient
    var form: FormParameters
    var info: RequestInfo
    var dpopThumbprint: String?
    var state: ServiceState
    var scope: RequestScope
}

/// The request's source address and headers (names as received), as pipelines see them (credentials are
/// left out there). The edge fills it in; grants know no HTTP types. The headers are listed only when a
/// pipeline is there to see them.
struct RequestInfo: Sendable {
    var remoteIP: String
    var headers: @Sendable () -> [(name: String, value: String)]
}

/// The grants this service issues tokens for: the token endpoint's handlers, and the grants an auth gateway
/// runs and then asks `/v1/tokens` to mint for. The token endpoint dispatches through it; discovery lists it.
struct GrantRegistry: Sendable {
    let tokenEndpoint: [any TokenGrant]
    let gateway: [ServiceConfig.GrantType]

    static let standard = GrantRegistry(tokenEndpoint: [ClientCredentialsGrant(), TokenExchangeGrant()],
                                        gateway: GatewayMint.grants)

    func handler(for grantType: String) -> (any TokenGrant)? {
        tokenEndpoint.first { $0.grantType.rawValue == grantType }
    }

    /// Every grant, token endpoint first.
    var grantTypes: [ServiceConfig.GrantType] { tokenEndpoint.map(\.grantType) + gateway }
}
