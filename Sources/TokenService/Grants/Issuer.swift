import Claims
import Foundation
import JOSE
import JSONCore
import Logging
import Pipeline

/// The token factory shared by every grant and by `tokenservice mint`: claims → pipeline → sign.
/// Token formats (Claims) stay separate from signing (JOSE); pipelines only ever contribute
/// `ClaimExtensions`, which cannot touch registered claims.
struct Issuer: Sendable {
    let engine: PipelineEngine?
    let metrics: ServiceMetrics
    let now: @Sendable () -> Int64
    /// Where token ids (`jti`) come from.
    let ids = RandomPool()

    struct AccessTokenRequest {
        var client: RegisteredClient
        var subject: String
        var scope: [String]
        var audience: String
        var user: JSONValue
        var context: JSONObject
        var authTime: Int64?
        var acr: String?
        var amr: [String]?
        /// The DPoP key's thumbprint: the token is bound to it (`cnf.jkt`).
        var dpopThumbprint: String?
        /// Token exchange: the `act` claim.
        var actor: JSONValue?
        /// Token exchange: the token expires no later than this (the subject token's `exp`).
        var notAfter: Int64?
    }

    struct IssuedAccessToken {
        let token: String
        let signers: KeyRing.Signers
        /// Seconds from now to its `exp`.
        let expiresIn: Int
    }

    /// Builds, runs `pre_access_token` on, and signs an RFC 9068 access token.
    func accessToken(_ r: AccessTokenRequest, state: ServiceState, scope: RequestScope) async throws(TokenError) -> IssuedAccessToken {
        var draft = try accessTokenDraft(r, state: state)
        var extensions = JSONObject()
        try await runPipeline(.preAccessToken, state: state, user: r.user, context: r.context, into: &extensions, scope: scope)
        draft.claims.extensions = extensions
        return try signed(draft, client: r.client, scope: scope)
    }

    /// The same token when there is no `pre_access_token` pipeline to run, so nothing to wait for. With
    /// one, it refuses (500): a token is never issued without its pipeline.
    func accessTokenNow(_ r: AccessTokenRequest, state: ServiceState, scope: RequestScope) throws(TokenError) -> IssuedAccessToken {
        guard !runsPipeline(.preAccessToken, state: state) else { throw TokenError.serverError("pre_access_token must run before this token is issued") }
        return try signed(try accessTokenDraft(r, state: state), client: r.client, scope: scope)
    }

    /// An access token's claims before a pipeline adds to them, and the keys that will sign it.
    private struct AccessTokenDraft {
        var claims: AccessTokenClaims
        let signers: KeyRing.Signers
    }

    private func accessTokenDraft(_ r: AccessTokenRequest, state: ServiceState) throws(TokenError) -> AccessTokenDraft {
        guard let signers = state.keys.signers(for: r.client.config.signingKey) else {
            throw TokenError.serverError("no active signing key")
        }
        let iat = now()
        var expiresAt = iat + Int64(r.client.config.accessTokenTTL)
        if let notAfter = r.notAfter { expiresAt = min(expiresAt, notAfter) }
        var claims = AccessTokenClaims(
            issuer: state.config.issuer, subject: r.subject, audience: [r.audience], clientID: r.client.id, issuedAt: iat,
            expiresAt: expiresAt, jwtID: Base64URL.encode(ids.bytes(16)), scope: r.scope,
            authTime: r.authTime, acr: r.acr, amr: r.amr)
        claims.confirmation = r.dpopThumbprint.map { ["jkt": .string($0)] }
        claims.actor = r.actor
        return AccessTokenDraft(claims: claims, signers: signers)
    }

    private func signed(_ draft: AccessTokenDraft, client: RegisteredClient, scope: RequestScope) throws(TokenError) -> IssuedAccessToken {
        let token = try sign(draft.claims.payload, with: draft.signers.accessToken, client: client, kind: "access_token", scope: scope)
        let c = draft.claims
        return IssuedAccessToken(token: token, signers: draft.signers, expiresIn: Int(max(0, c.expiresAt - c.issuedAt)))
    }

    struct IDTokenRequest {
        var client: RegisteredClient
        var user: JSONObject
        var scope: [String]
        var nonce: String?
        var authTime: Int64?
        var acr: String?
        var amr: [String]?
        var code: String?
        var accessToken: String
        var context: JSONObject
    }

    /// Builds, runs `pre_id_token` on, and signs an ID token.
    func idToken(_ r: IDTokenRequest, signers: KeyRing.Signers, state: ServiceState, scope: RequestScope) async throws(TokenError) -> String {
        let iat = now()
        var standard = StandardClaims.claims(for: r.user, scopes: Set(r.scope))
        try await runPipeline(.preIDToken, state: state, user: .object(r.user), context: r.context, into: &standard, scope: scope)
        return try signedIDToken(r, standard: standard, issuedAt: iat, signers: signers, scope: scope, state: state)
    }

    /// The same token when there is no `pre_id_token` pipeline to run. With one, it refuses (500): a token
    /// is never issued without its pipeline.
    func idTokenNow(_ r: IDTokenRequest, signers: KeyRing.Signers, state: ServiceState, scope: RequestScope) throws(TokenError) -> String {
        guard !runsPipeline(.preIDToken, state: state) else { throw TokenError.serverError("pre_id_token must run before this token is issued") }
        return try signedIDToken(r, standard: StandardClaims.claims(for: r.user, scopes: Set(r.scope)), issuedAt: now(), signers: signers,
                                 scope: scope, state: state)
    }

    private func signedIDToken(_ r: IDTokenRequest, standard: JSONObject, issuedAt iat: Int64, signers: KeyRing.Signers, scope: RequestScope,
                               state: ServiceState) throws(TokenError) -> String {
        let alg = signers.key.algorithm
        let accessTokenHash: String, codeHash: String?
        do {
            accessTokenHash = try TokenHash.halfHash(of: r.accessToken, algorithm: alg)
            codeHash = try r.code.map { code throws(JOSEError) in try TokenHash.halfHash(of: code, algorithm: alg) }
        } catch { throw TokenError.serverError("hashing for at_hash/c_hash failed") }
        let claims = IDTokenClaims(
            issuer: state.config.issuer, subject: r.user["id"]?.stringValue ?? "", audience: r.client.id,
            authorizedParty: r.client.id, issuedAt: iat, expiresAt: iat + Int64(r.client.config.idTokenTTL),
            authTime: r.authTime, nonce: r.nonce, acr: r.acr, amr: r.amr,
            accessTokenHash: accessTokenHash, codeHash: codeHash, standard: standard)
        return try sign(claims.payload, with: signers.idToken, client: r.client, kind: "id_token", scope: scope)
    }

    /// Signs a Transaction Token with the key `transaction_tokens` names (`typ: txntoken+jwt`).
    func transactionToken(_ claims: TransactionTokenClaims, client: RegisteredClient, state: ServiceState,
                          scope: RequestScope) throws(TokenError) -> String {
        guard let signer = state.keys.transactionTokenSigner else { throw TokenError.serverError("no asymmetric key signs Txn-Tokens") }
        return try sign(claims.payload, with: signer, client: client, kind: "txn_token", scope: scope)
    }

    /// Signs a payload and counts the token; a signing failure is logged (never the key) and is a 500.
    private func sign(_ payload: JSONObject, with signer: JWSSigner, client: RegisteredClient, kind: String,
                      scope: RequestScope) throws(TokenError) -> String {
        do {
            let token = try signer.sign(claims: payload)
            metrics.tokenIssued(client: client.id, algorithm: signer.key.algorithm.rawValue, kind: kind)
            scope.note.set { note in
                note.alg = signer.key.algorithm.rawValue
                note.kid = signer.key.kid
            }
            return token
        } catch {
            scope.logger.error("signing failed", metadata: ["kid": "\(signer.key.kid)", "error": "\(error)"])
            throw TokenError.serverError("token signing failed")
        }
    }

    /// Whether `trigger` has a pipeline to run (issuing then waits for the engine).
    func runsPipeline(_ trigger: PipelineTrigger, state: ServiceState) -> Bool {
        engine != nil && state.pipelines[trigger] != nil
    }

    /// Runs a trigger's pipeline and applies what it added to `claims` (never to a `protecting` name: by
    /// default the registered claims). A `callback(error)` is 403 access_denied; a function that fails
    /// closed is 500 server_error.
    func runPipeline(_ trigger: PipelineTrigger, state: ServiceState, user: JSONValue, context: JSONObject,
                     into claims: inout JSONObject, protecting: Set<String> = RegisteredClaims.names,
                     scope: RequestScope) async throws(TokenError) {
        guard runsPipeline(trigger, state: state), let pipeline = state.pipelines[trigger], let engine else { return }
        let logger = scope.logger
        let report = await engine.run(pipeline, user: user, context: context, logger: logger)
        for f in report.functions {
            metrics.pipelineRun(trigger: trigger.rawValue, function: f.name, outcome: f.outcome.label, duration: f.duration)
        }
        // What a function logged goes into a field: its text is the user's, never the log's own message.
        for line in report.logs {
            logger.info("pipeline log", metadata: ["pipeline": "\(trigger.rawValue)", "function": "\(line.function)", "log": "\(line.message)"])
        }
        for call in report.httpCalls {
            logger.info("pipeline outbound call", metadata: call.logMetadata(functionName: pipeline.functions[call.function].name))
        }
        let refused = report.extensions.apply(to: &claims, protected: protecting)
        for name in refused + report.refusedClaims {
            logger.warning("pipeline tried to set a claim it may not; dropped", metadata: ["trigger": "\(trigger.rawValue)", "claim": "\(name)"])
        }
        switch report.outcome {
        case .proceed:
            return
        case .denied(let function, let message):
            logger.info("pipeline denied issuance", metadata: ["function": "\(function)"])
            throw TokenError.accessDenied(message.isEmpty ? "denied by pipeline \(function)" : message)
        case .failed(let function, let reason):
            logger.error("pipeline failed", metadata: ["function": "\(function)", "reason": "\(reason)"])
            throw TokenError.serverError("pipeline \(function) failed")
        }
    }
}
