import Claims
import JSONCore

/// `POST /v1/tokens`: the auth gateway has authenticated a user and asks for that user's tokens.
/// Order (contract): access-token claims → pre_access_token → sign → ID-token claims → pre_id_token → sign.
struct GatewayMint: Sendable {
    let issuer: Issuer
    let guardrails: AbuseLimits

    struct MintRequest {
        var clientID: String
        var grantType: ServiceConfig.GrantType
        var scope: String?
        var audience: String?
        var nonce: String?
        var authTime: Int64?
        var acr: String?
        var amr: [String]?
        var code: String?
        var user: JSONObject
        var context: JSONObject
        /// The thumbprint of the DPoP key the gateway checked (RFC 9449): the access token is bound to it.
        var dpopThumbprint: String?
    }

    /// The grants a gateway runs with a user before it asks for tokens (listed by `GrantRegistry`).
    static let grants: [ServiceConfig.GrantType] = [.authorizationCode, .implicit, .password, .refreshToken]

    static func parse(_ body: [UInt8]) throws(TokenError) -> MintRequest {
        let root: JSONValue
        do { root = try JSON.parse(body) } catch { throw TokenError.invalidRequest("body is not valid JSON: \(error.message)") }
        guard let o = root.objectValue else { throw TokenError.invalidRequest("body must be a JSON object") }
        let known: Set<String> = ["client_id", "grant_type", "scope", "audience", "resource", "nonce", "auth_time", "acr", "amr", "code", "user", "context", "dpop_jkt"]
        if let unknown = o.keys.first(where: { !known.contains($0) }) { throw TokenError.invalidRequest("unknown member \(unknown)") }
        func string(_ k: String, required: Bool = false) throws(TokenError) -> String? {
            guard let v = o[k], !v.isNull else {
                if required { throw TokenError.invalidRequest("\(k) is missing") }
                return nil
            }
            guard let s = v.stringValue else { throw TokenError.invalidRequest("\(k) must be a string") }
            return s
        }
        let clientID = try string("client_id", required: true) ?? ""
        let grantName = try string("grant_type", required: true) ?? ""
        guard let grant = ServiceConfig.GrantType(rawValue: grantName), grants.contains(grant) else {
            throw TokenError.unsupportedGrantType("grant_type must be authorization_code, implicit, password or refresh_token")
        }
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
        return MintRequest(clientID: clientID, grantType: grant, scope: try string("scope"), audience: audience,
                           nonce: try string("nonce"), authTime: authTime, acr: try string("acr"), amr: amr, code: try string("code"),
                           user: user, context: context, dpopThumbprint: jkt)
    }

    func handle(_ r: MintRequest, state: ServiceState, scope requestScope: RequestScope) async throws(TokenError) -> TokenResponse {
        requestScope.note.set { note in
            note.clientID = r.clientID
            note.grantType = r.grantType.rawValue
        }
        guard let client = state.clients[r.clientID] else { throw TokenError(.unknownClient, "unknown client_id") }
        guard client.config.grantTypes.contains(r.grantType) else {
            throw TokenError.unauthorizedClient("\(r.grantType.rawValue) is not allowed for this client")
        }
        try await guardrails.spendToken(client: client, now: issuer.now())
        let scope = try ScopePolicy.grant(requested: r.scope, client: client)
        let audience = try ScopePolicy.audience(requested: r.audience, client: client)
        let subject = r.user["id"]?.stringValue ?? ""
        let context = PipelineContext.user(gatewayContext: r.context, client: client, grantType: r.grantType.rawValue,
                                           scope: scope, audience: audience, redacting: state.config.pipelineRedactedHeaders)
        let issued = try await issuer.accessToken(
            .init(client: client, subject: subject, scope: scope, audience: audience, user: .object(r.user),
                  context: context, authTime: r.authTime, acr: r.acr, amr: r.amr, dpopThumbprint: r.dpopThumbprint),
            state: state, scope: requestScope)
        let accessToken = issued.token
        var response = TokenResponse(accessToken: accessToken, expiresIn: issued.expiresIn, scope: scope)
        if r.dpopThumbprint != nil { response.tokenType = "DPoP" }
        if r.grantType.issuesIDToken && scope.contains("openid") {
            response.idToken = try await issuer.idToken(
                .init(client: client, user: r.user, scope: scope, nonce: r.nonce, authTime: r.authTime, acr: r.acr, amr: r.amr,
                      code: r.code, accessToken: accessToken, context: context),
                signers: issued.signers, state: state, scope: requestScope)
        }
        return response
    }
}
