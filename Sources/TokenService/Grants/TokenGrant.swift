import OAuthWire

/// One grant (ory/fosite's handler per grant): the `grant_type` it answers, where it is asked for, and how
/// it issues for a client that has authenticated and is allowed that grant. A new grant is one file
/// implementing this and one line in `GrantRegistry.standard`.
protocol TokenGrant: Sendable {
    var grantType: ServiceConfig.GrantType { get }
    /// The `requested_token_type` this handler issues (RFC 8693 §2.1), when one grant type issues several
    /// kinds of token; nil: the grant's own (and whatever no other handler of the grant claims).
    var requestedTokenType: String? { get }
    var endpoint: GrantEndpoint { get }
    func issue(_ request: GrantRequest, issuer: Issuer) async throws(TokenError) -> TokenResponse
    /// Whether issuing for this form with `state` may wait (a pipeline, the shared state, an outbound
    /// call). When it cannot, the token endpoint answers on the event loop with `issueNow`.
    func waitsToIssue(_ form: FormParameters, state: ServiceState, issuer: Issuer) -> Bool
    /// `issue`, for a grant that `waitsToIssue` says does not wait.
    func issueNow(_ request: GrantRequest, issuer: Issuer) throws(TokenError) -> TokenResponse
}

extension TokenGrant {
    var requestedTokenType: String? { nil }
    func waitsToIssue(_ form: FormParameters, state: ServiceState, issuer: Issuer) -> Bool { true }
    func issueNow(_ request: GrantRequest, issuer: Issuer) throws(TokenError) -> TokenResponse {
        throw TokenError.serverError("\(grantType.rawValue) is issued only by waiting")
    }
}

/// Where a grant is asked for: by a client at `/oauth/token`, or by the auth gateway at `/v1/tokens` after
/// it ran the grant with the user.
enum GrantEndpoint: Sendable {
    case token
    case gateway
}

/// What a grant is given: the authenticated client, the form (token endpoint) or the user the gateway
/// authenticated (gateway), what the request carried, the DPoP key the token is bound to (a verified,
/// unused proof, or the key the gateway checked), the state it was read with and the request's scope.
struct GrantRequest: Sendable {
    var client: RegisteredClient
    var form = FormParameters(values: [:])
    var gateway: GatewayUser?
    var info: RequestInfo
    var dpopThumbprint: String?
    var state: ServiceState
    var scope: RequestScope
    /// Verifies platform tokens of `trusted_issuers` (a workload's own token as a Txn-Token subject).
    var workloads: WorkloadIdentity?
}

/// The request's source address and headers (names as received), as pipelines see them (credentials are
/// left out there). The edge fills it in; grants know no HTTP types. The headers are listed only when a
/// pipeline is there to see them.
struct RequestInfo: Sendable {
    var remoteIP: String
    var headers: @Sendable () -> [(name: String, value: String)]

    /// No request: `tokenservice mint` and other offline callers.
    static let offline = RequestInfo(remoteIP: "127.0.0.1", headers: { [] })
}

/// The grants this service issues tokens for: the token endpoint's handlers, and the grants an auth gateway
/// runs with a user and then asks `/v1/tokens` to mint for. Both endpoints dispatch through it; discovery
/// lists it.
struct GrantRegistry: Sendable {
    let grants: [any TokenGrant]
    /// The handlers by endpoint and grant type, in registry order (what `handler(for:)` looks through).
    private let byGrant: [GrantEndpoint: [String: [any TokenGrant]]]

    init(grants: [any TokenGrant]) {
        self.grants = grants
        var byGrant: [GrantEndpoint: [String: [any TokenGrant]]] = [:]
        for grant in grants { byGrant[grant.endpoint, default: [:]][grant.grantType.rawValue, default: []].append(grant) }
        self.byGrant = byGrant
    }

    static let standard = GrantRegistry(grants: [
        ClientCredentialsGrant(),
        TokenExchangeGrant(),
        TransactionTokenGrant(),
        GatewayUserGrant(.authorizationCode),
        GatewayUserGrant(.implicit),
        GatewayUserGrant(.password),
        GatewayUserGrant(.refreshToken),
    ])

    /// The handler of `grantType` at `endpoint` that issues `requestedTokenType`, else the grant's own handler.
    func handler(for grantType: String, requestedTokenType: String? = nil, at endpoint: GrantEndpoint) -> (any TokenGrant)? {
        let candidates = byGrant[endpoint]?[grantType] ?? []
        if let requestedTokenType, let specific = candidates.first(where: { $0.requestedTokenType == requestedTokenType }) { return specific }
        return candidates.first { $0.requestedTokenType == nil }
    }

    /// The grant types asked for at `endpoint`, in registry order, each once.
    func grantTypes(at endpoint: GrantEndpoint) -> [ServiceConfig.GrantType] {
        Self.once(grants.filter { $0.endpoint == endpoint }.map(\.grantType))
    }

    /// Every grant type, in registry order, each once.
    var grantTypes: [ServiceConfig.GrantType] { Self.once(grants.map(\.grantType)) }

    private static func once(_ types: [ServiceConfig.GrantType]) -> [ServiceConfig.GrantType] {
        var seen = Set<ServiceConfig.GrantType>()
        return types.filter { seen.insert($0).inserted }
    }
}
