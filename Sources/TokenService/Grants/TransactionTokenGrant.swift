import OAuthWire
import Claims
import Foundation
import JOSE
import JSONCore

/// The Transaction Token Service (draft-ietf-oauth-transaction-tokens-10): token exchange with
/// `requested_token_type` txn_token, for clients with `transaction_tokens.allowed`.
/// - Subject tokens (§9.2): an access or ID token of this service under the exchange policy, a platform
///   token of a trusted issuer naming the calling workload itself, or a Txn-Token to replace (§12.9).
///   Never a refresh token (§12.3), never an expired token (§6), never one whose scope is unknown (§12.10).
/// - `scope` only within the subject's (§12.6); `aud` one of `transaction_tokens.trust_domains`.
/// - `rctx` from `request_context`, `tctx` from `request_details` plus what the `pre_transaction_token`
///   pipeline adds; a replacement keeps `txn`, `sub`, `aud` and every `rctx`/`tctx` member, may only
///   narrow the scope, and appends the replacing workload to `req_wl`.
struct TransactionTokenGrant: TokenGrant {
    var grantType: ServiceConfig.GrantType { .tokenExchange }
    var requestedTokenType: String? { TransactionTokenClaims.tokenTypeURN }
    var endpoint: GrantEndpoint { .token }

    static let refreshTokenType = "urn:ietf:params:oauth:token-type:refresh_token"
    /// §9.2.1 / §9.2.2: whoever may send these could name any subject; this TTS does not take them.
    static let unacceptedTypes: Set<String> = ["urn:ietf:params:oauth:token-type:self_signed", "urn:ietf:params:oauth:token-type:unsigned_json"]
    /// The most workloads `req_wl` lists: each replacement adds one and may extend the lifetime (§12.9).
    static let maxCallChain = 16

    /// Who the Txn-Token is about, and the scope and context it may carry.
    private struct Subject {
        var sub: String
        /// What the requested scope must stay within.
        var scopes: [String]
        var expiresAt: Int64
        /// The subject token's claims, for the pipeline.
        var claims: JSONObject
        /// The Txn-Token being replaced.
        var replacing: TransactionTokenClaims?
    }

    func issue(_ r: GrantRequest, issuer: Issuer) async throws(TokenError) -> TokenResponse {
        let asked = try Self.asked(r, now: issuer.now())
        var draft = try Self.draft(r, asked, subject: try await subject(r, audience: asked.audience, now: asked.now))
        if issuer.runsPipeline(.preTransactionToken, state: r.state) {
            var context = PipelineContext.oauth(grantType: grantType.rawValue, client: r.client, scope: draft.claims.scope, audience: asked.audience,
                                                form: r.form, info: r.info, redacting: r.state.config.pipelineRedactedHeaders)
            context["subjectToken"] = .object(draft.subjectClaims)
            context["transactionToken"] = .object(draft.claims.payload)
            // Members already asserted by a Txn-Token being replaced cannot change (§12.9).
            try await issuer.runPipeline(.preTransactionToken, state: r.state, user: .null, context: context, into: &draft.claims.transactionContext,
                                         protecting: draft.keptContext, scope: r.scope)
        }
        return try Self.response(draft, r, issuer: issuer, now: asked.now)
    }

    /// Issuing waits for a `pre_transaction_token` pipeline, and for a trusted issuer's keys when the subject
    /// token may be a platform token.
    func waitsToIssue(_ form: FormParameters, state: ServiceState, issuer: Issuer) -> Bool {
        issuer.runsPipeline(.preTransactionToken, state: state) || Self.platformSubject(form, state: state) != nil
    }

    func issueNow(_ r: GrantRequest, issuer: Issuer) throws(TokenError) -> TokenResponse {
        guard !issuer.runsPipeline(.preTransactionToken, state: r.state) else {
            throw TokenError.serverError("pre_transaction_token must run before this token is issued")
        }
        let asked = try Self.asked(r, now: issuer.now())
        guard let subject = try ownSubject(r, audience: asked.audience, now: asked.now) else {
            throw TokenError.serverError("a platform subject token is verified only by waiting for its issuer's keys")
        }
        return try Self.response(try Self.draft(r, asked, subject: subject), r, issuer: issuer, now: asked.now)
    }

    /// What the request asks for, checked before its subject token is looked at.
    private struct Asked {
        let settings: ServiceConfig.TransactionTokens
        let audience: String
        let scope: [String]
        let now: Int64
    }

    private static func asked(_ r: GrantRequest, now: Int64) throws(TokenError) -> Asked {
        let (client, form, state) = (r.client, r.form, r.state)
        guard let settings = state.config.transactionTokens, client.config.transactionTokensAllowed else {
            throw TokenError.unauthorizedClient("this client may not ask for Txn-Tokens")
        }
        guard let audience = form["audience"] else { throw TokenError.invalidRequest("audience (the trust domain) is missing") }
        if form["resource"] != nil { throw TokenError.invalidRequest("name the trust domain with audience, not resource") }
        guard settings.trustDomains.contains(audience) else { throw TokenError.invalidTarget("audience \(audience) is not a trust domain of this service") }
        guard let requestedScope = form["scope"] else { throw TokenError.invalidRequest("scope (the purpose of the transaction) is missing") }
        let asked = try ScopePolicy.parse(requestedScope)
        guard !asked.isEmpty else { throw TokenError.invalidRequest("scope (the purpose of the transaction) is empty") }
        if form["actor_token"] != nil || form["actor_token_type"] != nil {
            throw TokenError.invalidRequest("actor_token is not used for Txn-Tokens: the requesting workload is the authenticated client")
        }
        return Asked(settings: settings, audience: audience, scope: asked, now: now)
    }

    /// The Txn-Token's claims before a pipeline adds to its `tctx`.
    private struct Draft {
        var claims: TransactionTokenClaims
        /// The `tctx` members a replacement keeps (a pipeline cannot change them).
        let keptContext: Set<String>
        let subjectClaims: JSONObject
    }

    private static func draft(_ r: GrantRequest, _ asked: Asked, subject: Subject) throws(TokenError) -> Draft {
        let (client, form, state, now) = (r.client, r.form, r.state, asked.now)
        guard !subject.scopes.isEmpty else {
            throw TokenError.invalidScope("the subject token carries no scope, so a Txn-Token's scope cannot be bounded by it")
        }
        let scope = try ScopePolicy.narrow(asked.scope, within: subject.scopes, what: "the subject token's scope")

        var rctx = subject.replacing?.requestContext ?? [:]
        var tctx = subject.replacing?.transactionContext ?? [:]
        let kept = subject.replacing != nil
        try add(try jsonObject(form, "request_context"), to: &rctx, name: "rctx", onlyNew: kept)
        try add(try jsonObject(form, "request_details"), to: &tctx, name: "tctx", onlyNew: kept)

        let lifetime = Int64(asked.settings.ttlSeconds)
        // A first Txn-Token never outlives its subject token; a replacement gets its own short lifetime (§12.9).
        let expiresAt = kept ? now + lifetime : min(now + lifetime, subject.expiresAt)
        let workloads = (subject.replacing?.requestingWorkloads ?? []) + [client.id]
        guard workloads.count <= maxCallChain else {
            throw TokenError.invalidGrant("the Txn-Token was replaced \(maxCallChain - 1) times already")
        }
        let claims = TransactionTokenClaims(
            issuer: state.config.issuer, issuedAt: now, expiresAt: expiresAt, audience: asked.audience,
            transactionID: subject.replacing?.transactionID ?? UUID().uuidString.lowercased(), subject: subject.sub, scope: scope,
            requestingWorkloads: workloads, requestContext: rctx, transactionContext: tctx)
        return Draft(claims: claims, keptContext: kept ? Set(tctx.keys) : [], subjectClaims: subject.claims)
    }

    private static func response(_ draft: Draft, _ r: GrantRequest, issuer: Issuer, now: Int64) throws(TokenError) -> TokenResponse {
        let token = try issuer.transactionToken(draft.claims, client: r.client, state: r.state, scope: r.scope)
        var response = TokenResponse(accessToken: token, expiresIn: Int(max(0, draft.claims.expiresAt - now)), scope: draft.claims.scope)
        response.tokenType = "N_A"
        response.issuedTokenType = TransactionTokenClaims.tokenTypeURN
        return response
    }

    /// The subject token, verified and checked against the caller (§9.3: the TTS MUST validate it).
    private func subject(_ r: GrantRequest, audience: String, now: Int64) async throws(TokenError) -> Subject {
        if let subject = try ownSubject(r, audience: audience, now: now) { return subject }
        guard let (jws, entry) = Self.platformSubject(r.form, state: r.state), let workloads = r.workloads else { throw Self.notAValidSubject }
        let workload: PlatformIdentity
        do { workload = try await workloads.verify(jws, issuer: entry, now: now) } catch {
            r.scope.logger.info("platform subject token refused", metadata: ["reason": "\(error.description)"])
            throw TokenError.invalidGrant("the subject_token is not a valid token of its issuer")
        }
        // A workload asking for itself with its platform's token: its registered scopes bound the Txn-Token's.
        guard workload.clientID == r.client.id else { throw TokenError.invalidGrant("the platform token names another workload") }
        return Subject(sub: r.client.id, scopes: r.client.config.scopes, expiresAt: workload.expiresAt, claims: workload.claims)
    }

    private static let notAValidSubject = TokenError.invalidGrant("the subject_token is not a valid token of this issuer or of a trusted issuer")

    /// A subject token that is not a Txn-Token and names a trusted issuer (unverified): a platform token,
    /// whose verification may fetch that issuer's keys.
    private static func platformSubject(_ form: FormParameters, state: ServiceState) -> (CompactJWS, ServiceConfig.TrustedIssuer)? {
        guard !state.config.trustedIssuers.isEmpty, form["subject_token_type"] != TransactionTokenClaims.tokenTypeURN,
              let token = form["subject_token"], let jws = try? CompactJWS(token),
              let entry = WorkloadIdentity.entry(for: jws, among: state.config.trustedIssuers)
        else { return nil }
        return (jws, entry)
    }

    /// The subject token when this service issued it, verified and checked; nil when it is not this
    /// service's but may be a trusted issuer's (`platformSubject`).
    private func ownSubject(_ r: GrantRequest, audience: String, now: Int64) throws(TokenError) -> Subject? {
        let (form, state, client) = (r.form, r.state, r.client)
        guard let token = form["subject_token"] else { throw TokenError.invalidRequest("subject_token is missing") }
        guard let type = form["subject_token_type"] else { throw TokenError.invalidRequest("subject_token_type is missing") }
        if type == Self.refreshTokenType { throw TokenError.invalidRequest("a refresh token is never exchanged for a Txn-Token") }
        if Self.unacceptedTypes.contains(type) { throw TokenError.invalidRequest("subject_token_type \(type) is not accepted by this service") }
        guard type == TransactionTokenClaims.tokenTypeURN || TokenExchangeGrant.tokenTypes.contains(type) else {
            throw TokenError.invalidRequest("subject_token_type \(type) is not supported")
        }

        guard let issued = state.keys.verifyIssued(token, issuer: state.config.issuer, now: now) else {
            if Self.platformSubject(form, state: state) != nil { return nil }
            throw Self.notAValidSubject
        }
        // Accepted within the clock leeway, but a token issued from it would carry an expired context (§6, §12.9).
        guard issued.expiresAt > now else { throw TokenError.invalidGrant("the subject_token has expired") }

        if type == TransactionTokenClaims.tokenTypeURN {
            guard issued.kind == .transactionToken else { throw TokenError.invalidGrant("the subject_token is not a Txn-Token") }
            let replacing: TransactionTokenClaims
            do { replacing = try TransactionTokenClaims(claims: issued.claims) } catch {
                throw TokenError.invalidGrant("the subject_token is not a Txn-Token: \(error.reason)")
            }
            guard replacing.audience == audience else { throw TokenError.invalidTarget("a replacement keeps the trust domain \(replacing.audience)") }
            return Subject(sub: replacing.subject, scopes: replacing.scope, expiresAt: replacing.expiresAt, claims: issued.claims, replacing: replacing)
        }
        switch issued.kind {
        case .transactionToken:
            throw TokenError.invalidGrant("a Txn-Token is replaced with subject_token_type \(TransactionTokenClaims.tokenTypeURN)")
        case .accessToken:
            guard type != TokenExchangeGrant.idTokenType else { throw TokenError.invalidGrant("the subject_token is not of type \(type)") }
            try TokenExchangeGrant.checkSubject(issued, caller: client)
            // RFC 9449: only the holder of the bound key may use the token, here too; the Txn-Token is not bound.
            if let bound = issued.dpopThumbprint, bound != r.dpopThumbprint {
                throw TokenError.invalidGrant("the subject_token is DPoP-bound: send a DPoP proof of its key")
            }
            return Subject(sub: issued.subject, scopes: issued.scopes, expiresAt: issued.expiresAt, claims: issued.claims)
        case .idToken:
            guard type != TokenExchangeGrant.accessTokenType else { throw TokenError.invalidGrant("the subject_token is not of type \(type)") }
            try TokenExchangeGrant.checkSubject(issued, caller: client)
            // An ID token names no scope; the scopes registered for the client it was issued to (the caller) bound it.
            return Subject(sub: issued.subject, scopes: client.config.scopes, expiresAt: issued.expiresAt, claims: issued.claims)
        }
    }

    /// A form parameter holding a JSON object (§9.1: `request_context`, `request_details`).
    static func jsonObject(_ form: FormParameters, _ name: String) throws(TokenError) -> JSONObject {
        guard let text = form[name] else { return [:] }
        guard let value = try? JSON.parse(Array(text.utf8)), let object = value.objectValue else {
            throw TokenError.invalidRequest("\(name) must be a JSON object")
        }
        return object
    }

    /// Adds `members` to a context claim; with `onlyNew` (a replacement), a member it already has may be
    /// repeated but not changed.
    static func add(_ members: JSONObject, to claim: inout JSONObject, name: String, onlyNew: Bool) throws(TokenError) {
        for (key, value) in members {
            if onlyNew, let current = claim[key] {
                guard current == value else { throw TokenError.invalidRequest("\(name).\(key) is fixed for this transaction and cannot change") }
                continue
            }
            claim[key] = value
        }
    }
}
