import OAuthWire
import Claims
import JSONCore

/// OAuth 2.0 Token Exchange (RFC 8693) for tokens this service issued: impersonation (subject token
/// only) and delegation (with an actor token). Who may exchange what is the contract's policy:
/// - the subject is a token this service issued with an asymmetric key (`KeyRing.verifyIssued`); an
///   access token whose `aud` names the caller (its client_id or `token_exchange.subject_audiences`) or
///   whose `may_act.sub` is the caller; an ID token only by the client it was issued to;
/// - an actor token is the caller's own;
/// - audience and scope narrow, never widen; the result never outlives the subject, keeps the subject's
///   DPoP binding (with a proof of that key), and nests `act` at most `token_exchange.max_chain` deep.
struct TokenExchangeGrant: AccessTokenGrant {
    var grantType: ServiceConfig.GrantType { .tokenExchange }
    var endpoint: GrantEndpoint { .token }

    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    static let idTokenType = "urn:ietf:params:oauth:token-type:id_token"
    static let jwtType = "urn:ietf:params:oauth:token-type:jwt"
    static let tokenTypes: Set<String> = [accessTokenType, idTokenType, jwtType]

    var issuedTokenType: String? { Self.accessTokenType }

    /// The exchanged token the caller may have: the subject (and actor) token verified and checked against
    /// the caller, scope and audience narrowed, the delegation chain in `act`.
    func accessTokenRequest(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> Issuer.AccessTokenRequest {
        let (client, form, state, dpopThumbprint) = (r.client, r.form, r.state, r.dpopThumbprint)
        let now = issuer.now()
        if let requested = form["requested_token_type"], requested != Self.accessTokenType, requested != Self.jwtType {
            throw TokenError.invalidRequest("requested_token_type \(requested) is not issued here")
        }
        guard let subject = try token(form, "subject_token", state: state, now: now) else { throw TokenError.invalidRequest("subject_token is missing") }
        let actor = try token(form, "actor_token", state: state, now: now)
        try Self.checkSubject(subject, caller: client)
        // Accepted within the clock leeway, but a token issued for it would already have expired.
        guard subject.expiresAt > now else { throw TokenError.invalidGrant("the subject_token has expired") }
        if let actor, (actor.claims["client_id"]?.stringValue ?? actor.subject) != client.id {
            throw TokenError.invalidGrant("the actor_token must be a token of the calling client")
        }
        if subject.actorDepth + 1 > client.config.exchangeMaxChain {
            throw TokenError.invalidGrant("the delegation chain would be longer than \(client.config.exchangeMaxChain)")
        }
        // RFC 9449: a bound subject stays bound, and only to the key that holds it.
        if let bound = subject.dpopThumbprint, bound != dpopThumbprint {
            throw TokenError.invalidGrant("the subject_token is DPoP-bound: send a DPoP proof of its key")
        }

        let requested = try ScopePolicy.requestedAudience(audience: form["audience"], resource: form["resource"])
        let audience = try ScopePolicy.audience(requested: requested, client: client)
        let allowed = subject.scopes.filter { client.config.scopes.contains($0) }
        let scope = try ScopePolicy.narrow(requested: form["scope"], within: allowed, what: "the subject token's and the client's scopes")

        // RFC 8693 §4.1: the current actor first, the subject token's actor (if any) nested inside.
        var act: JSONObject = ["sub": .string(actor?.subject ?? client.id)]
        if let prior = subject.claims["act"] { act["act"] = prior }

        var context: JSONObject = [:]
        if issuer.runsPipeline(.preAccessToken, state: state) {
            context = PipelineContext.oauth(grantType: grantType.rawValue, client: client, scope: scope,
                                            audience: audience, form: form, info: r.info, redacting: state.config.pipelineRedactedHeaders)
            context["subjectToken"] = .object(subject.claims)
            if let actor { context["actorToken"] = .object(actor.claims) }
        }
        return .init(client: client, subject: subject.subject, scope: scope, audience: audience, user: .null, context: context,
                     dpopThumbprint: dpopThumbprint, actor: .object(act), notAfter: subject.expiresAt)
    }

    /// The caller may exchange this subject token (the contract's policy; RFC 8693 §2.1 leaves it to us).
    static func checkSubject(_ subject: IssuedToken, caller: RegisteredClient) throws(TokenError) {
        if subject.isAccessToken {
            if subject.isAudience(caller.config.resourceAudiences) { return }
            if subject.claims["may_act"]?.objectValue?["sub"]?.stringValue == caller.id { return }
            throw TokenError.invalidGrant("the subject_token is not for this client (aud) and does not name it in may_act")
        }
        guard subject.issuedTo == caller.id else { throw TokenError.invalidGrant("an ID token is exchanged only by the client it was issued to") }
    }

    /// Reads `name` and `name_type` and verifies the token as one this service issued, of the header
    /// type its token type implies. Nil when the parameter is absent.
    private func token(_ form: FormParameters, _ name: String, state: ServiceState, now: Int64) throws(TokenError) -> IssuedToken? {
        guard let token = form[name] else {
            if form[name + "_type"] != nil { throw TokenError.invalidRequest("\(name)_type is given without \(name)") }
            return nil
        }
        guard let type = form[name + "_type"] else { throw TokenError.invalidRequest("\(name)_type is missing") }
        guard Self.tokenTypes.contains(type) else { throw TokenError.invalidRequest("\(name)_type \(type) is not supported") }
        guard let issued = state.keys.verifyIssued(token, issuer: state.config.issuer, now: now) else {
            throw TokenError.invalidGrant("the \(name) is not a valid token of this issuer")
        }
        // A Txn-Token never becomes an access token (draft-ietf-oauth-transaction-tokens §12.11).
        if issued.kind == .transactionToken { throw TokenError.invalidGrant("a Txn-Token is exchanged only for a replacement Txn-Token") }
        if type == Self.accessTokenType && !issued.isAccessToken || type == Self.idTokenType && issued.kind != .idToken {
            throw TokenError.invalidGrant("the \(name) is not of type \(type)")
        }
        return issued
    }
}
