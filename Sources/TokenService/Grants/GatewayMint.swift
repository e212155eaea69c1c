import OAuthWire
import Claims
import JSONCore

/// `POST /v1/tokens`: the auth gateway has authenticated a user and asks for that user's tokens. The
/// client and its grant are checked, the client's token quota spent, then the grant's handler from the
/// registry issues.
struct GatewayMint: Sendable {
    let issuer: Issuer
    let grants: GrantRegistry
    let guardrails: AbuseLimits

    struct Request: Sendable {
        var clientID: String
        var grantType: String
        var user: GatewayUser
        /// The thumbprint of the DPoP key the gateway checked (RFC 9449): the access token is bound to it.
        var dpopThumbprint: String?
    }

    static let members: Set<String> = ["client_id", "grant_type", "scope", "audience", "resource", "nonce", "auth_time", "acr", "amr",
                                       "code", "user", "context", "dpop_jkt"]

    static func parse(_ body: [UInt8]) throws(TokenError) -> Request {
        let root: JSONValue
        do { root = try JSON.parse(body) } catch { throw TokenError.invalidRequest("body is not valid JSON: \(error.message)") }
        guard let o = root.objectValue else { throw TokenError.invalidRequest("body must be a JSON object") }
        if let unknown = o.keys.first(where: { !members.contains($0) }) { throw TokenError.invalidRequest("unknown member \(unknown)") }
        func string(_ k: String, required: Bool = false) throws(TokenError) -> String? {
            guard let v = o[k], !v.isNull else {
                if required { throw TokenError.invalidRequest("\(k) is missing") }
                return nil
            }
            guard let s = v.stringValue else { throw TokenError.invalidRequest("\(k) must be a string") }
            return s
        }
        let clientID = try string("client_id", required: true) ?? ""
        let grantType = try string("grant_type", required: true) ?? ""
        guard let user = o["user"]?.objectValue else { throw TokenError.invalidRequest("user must be an object") }
        guard let id = user["id"]?.stringValue, !id.isEmpty else { throw TokenError.invalidRequest("user.id must be a non-empty string") }
        var authTime: Int64?
        if let v = o["auth_time"], !v.isNull {
            guard let t = NumericDate.seconds(v), t >= 0 else { throw TokenError.invalidRequest("auth_time must be seconds since the epoch") }
            authTime = t
        }
        var amr: [String]?
        if let v = o["amr"], !v.isNull {
            guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else { throw TokenError.invalidRequest("amr must be an array of strings") }
            amr = a.compactMap(\.stringValue)
        }
        var context = JSONObject()
        if let v = o["context"], !v.isNull {
            guard let c = v.objectValue else { throw TokenError.invalidRequest("context must be an object") }
            context = c
        }
        let audience = try ScopePolicy.requestedAudience(audience: try string("audience"), resource: try string("resource"))
        let jkt = try string("dpop_jkt")
        if let jkt, !DPoPProof.isThumbprint(jkt) { throw TokenError.invalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint") }
        let gatewayUser = GatewayUser(user: user, scope: try string("scope"), audience: audience, nonce: try string("nonce"),
                                      authTime: authTime, acr: try string("acr"), amr: amr, code: try string("code"), context: context)
        return Request(clientID: clientID, grantType: grantType, user: gatewayUser, dpopThumbprint: jkt)
    }

    func handle(_ r: Request, info: RequestInfo, state: ServiceState, scope requestScope: RequestScope) async throws(TokenError) -> TokenResponse {
        let (handler, client) = try grant(r, state: state, scope: requestScope)
        try await guardrails.spendToken(client: client, now: issuer.now())
        return Self.bound(try await handler.issue(grantRequest(r, client: client, info: info, state: state, scope: requestScope), issuer: issuer), r)
    }

    /// `handle` when nothing waits — the shared state is this process's memory and the grant runs no
    /// pipeline — answered on the event loop; nil, decided before the quota is counted, otherwise.
    func handleNow(_ r: Request, info: RequestInfo, state: ServiceState, scope requestScope: RequestScope) throws(TokenError) -> TokenResponse? {
        guard let counters = guardrails.shared.inProcess else { return nil }
        let (handler, client) = try grant(r, state: state, scope: requestScope)
        // The gateway's grants read no form: the user and what the gateway asks come in the JSON body.
        guard !handler.waitsToIssue(FormParameters(values: [:]), state: state, issuer: issuer) else { return nil }
        try guardrails.spendTokenNow(client: client, now: issuer.now(), counters: counters)
        return Self.bound(try handler.issueNow(grantRequest(r, client: client, info: info, state: state, scope: requestScope), issuer: issuer), r)
    }

    /// The grant's handler at this endpoint and the client, allowed that grant.
    private func grant(_ r: Request, state: ServiceState, scope requestScope: RequestScope) throws(TokenError) -> (any TokenGrant, RegisteredClient) {
        guard let handler = grants.handler(for: r.grantType, at: .gateway) else {
            let names = grants.grantTypes(at: .gateway).map(\.rawValue).joined(separator: ", ")
            throw TokenError.unsupportedGrantType("grant_type must be one of \(names)")
        }
        requestScope.note.set { note in
            note.clientID = r.clientID
            note.grantType = r.grantType
        }
        guard let client = state.clients[r.clientID] else { throw TokenError(.unknownClient, "unknown client_id") }
        guard client.config.grantTypes.contains(handler.grantType) else {
            throw TokenError.unauthorizedClient("\(r.grantType) is not allowed for this client")
        }
        return (handler, client)
    }

    private func grantRequest(_ r: Request, client: RegisteredClient, info: RequestInfo, state: ServiceState, scope: RequestScope) -> GrantRequest {
        GrantRequest(client: client, gateway: r.user, info: info, dpopThumbprint: r.dpopThumbprint, state: state, scope: scope)
    }

    /// A token bound to the key the gateway checked says so (RFC 9449 §5).
    private static func bound(_ response: TokenResponse, _ r: Request) -> TokenResponse {
        var response = response
        if r.dpopThumbprint != nil { response.tokenType = "DPoP" }
        return response
    }
}
