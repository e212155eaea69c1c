import Claims
import JOSE
import JSONCore
import Logging
import OAuthWire

/// Client authentication at the token and introspection endpoints: client_secret_basic
/// (RFC 6749 §2.3.1), client_secret_post, private_key_jwt (RFC 7523 §2.2, OIDC Core §9) and a platform's
/// token from a trusted issuer (workload identity: jwt-bearer or jwt-spiffe assertions).
/// Exactly one method per request. Every failure is the same `invalid_client`, and an unknown
/// client costs the same hash-and-compare as a wrong secret.
struct ClientAuthenticator: Sendable {
    static let assertionType = WorkloadIdentity.bearerAssertionType
    /// Assertions valid for longer than this are refused (they would pin one-time memory entries).
    static let maxAssertionLifetime: Int64 = 3600

    let clients: ClientRegistry
    /// Where assertion `jti`s are remembered (shared by replicas when shared state is configured).
    let oneTime: any SharedState
    /// Accepted `aud` values: the token endpoint URL and the issuer.
    let audiences: Set<String>
    let workloads: WorkloadIdentity
    /// The request's scope: why a platform token was refused is logged with its logger; the client only
    /// sees `invalid_client`.
    let scope: RequestScope

    /// What a request presents to authenticate its client, parsed once (the abuse counters read the
    /// client it names before authentication, then authentication checks it).
    struct Presented {
        let basic: (id: String, secret: String)?
        /// An `Authorization: Basic` value that does not parse.
        let malformedBasic: Bool
        let assertion: CompactJWS?
        /// The client an assertion names, not yet verified: its `iss` (private_key_jwt: the client whose keys
        /// verify it), or for a trusted issuer's platform token the client its `sub` maps to.
        let assertionClient: String?
        /// The trusted issuer an assertion names (workload identity), read with `assertionClient`.
        let platformIssuer: ServiceConfig.TrustedIssuer?

        init(authorization: String?, form: FormParameters, trustedIssuers: [ServiceConfig.TrustedIssuer]) {
            basic = authorization.flatMap(BasicCredentials.parse)
            malformedBasic = basic == nil && authorization?.lowercased().hasPrefix("basic") == true
            let assertion = form["client_assertion"].flatMap { try? CompactJWS($0) }
            self.assertion = assertion
            let claims = assertion?.unverifiedClaims()
            platformIssuer = claims.flatMap { WorkloadIdentity.entry(claims: $0, among: trustedIssuers) }
            if let entry = platformIssuer {
                assertionClient = claims?["sub"]?.stringValue.flatMap(entry.client(for:)) ?? entry.issuer
            } else {
                assertionClient = claims?["iss"]?.stringValue
            }
        }

        /// The client the request names before it is authenticated (Basic user, form client_id, or the
        /// client an assertion names), for the abuse counters.
        func claimedClientID(form: FormParameters) -> String? {
            basic?.id ?? form["client_id"] ?? assertionClient
        }
    }

    func authenticate(_ presented: Presented, form: FormParameters, now: Int64) async throws(TokenError) -> RegisteredClient {
        if let client = try authenticateWithoutAssertion(presented, form: form) { return client }
        return try await checkAssertion(presented, form: form, now: now)
    }

    /// Everything but an assertion, which may wait (one-time memory, an issuer's keys): the client a
    /// secret authenticates, or the error; nil when the request authenticates with an assertion.
    func authenticateWithoutAssertion(_ presented: Presented, form: FormParameters) throws(TokenError) -> RegisteredClient? {
        let basic = presented.basic
        if presented.malformedBasic { throw TokenError.invalidClient(basic: true) }
        let usesPost = form["client_secret"] != nil
        let usesAssertion = form["client_assertion"] != nil || form["client_assertion_type"] != nil
        let methods = (basic != nil ? 1 : 0) + (usesPost ? 1 : 0) + (usesAssertion ? 1 : 0)
        guard methods <= 1 else { throw TokenError.invalidRequest("use exactly one client authentication method") }

        if let (id, secret) = basic {
            if let formID = form["client_id"], formID != id { throw TokenError.invalidRequest("client_id does not match the Authorization header") }
            return try checkSecret(id: id, secret: secret, method: .clientSecretBasic)
        }
        if usesPost {
            guard let id = form["client_id"], let secret = form["client_secret"] else {
                throw TokenError.invalidRequest("client_secret_post needs client_id and client_secret")
            }
            return try checkSecret(id: id, secret: secret, method: .clientSecretPost)
        }
        if usesAssertion { return nil }
        throw TokenError.invalidClient(basic: false)
    }

    /// What an unknown client's secret is compared with (the same work as a known one): random, so nothing matches it.
    private static let decoyDigest = secureRandomBytes(32)

    private func checkSecret(id: String, secret: String, method: ServiceConfig.AuthMethod) throws(TokenError) -> RegisteredClient {
        guard let presented = try? Digest.hash(.sha256, Array(secret.utf8)) else { throw TokenError.invalidClient(basic: method == .clientSecretBasic) }
        let client = clients[id]
        var expected = Self.decoyDigest
        if let client, case .secretSHA256(let digest) = client.config.credential { expected = digest }
        let matches = constantTimeEquals(presented, expected)
        guard let client, matches, client.config.authMethods.contains(method) else {
            throw TokenError.invalidClient(basic: method == .clientSecretBasic)
        }
        return client
    }

    private func checkAssertion(_ presented: Presented, form: FormParameters, now: Int64) async throws(TokenError) -> RegisteredClient {
        let type = form["client_assertion_type"]
        guard type == Self.assertionType || type == WorkloadIdentity.spiffeAssertionType else {
            throw TokenError.invalidRequest("client_assertion_type must be \(Self.assertionType) or \(WorkloadIdentity.spiffeAssertionType)")
        }
        guard form["client_assertion"] != nil else { throw TokenError.invalidRequest("client_assertion is missing") }
        if let jws = presented.assertion, let entry = presented.platformIssuer {
            return try await checkPlatformToken(jws, issuer: entry, form: form, now: now)
        }
        // A JWT-SVID only ever comes from a trusted issuer.
        guard type == Self.assertionType else { throw TokenError.invalidClient(basic: false) }
        // The client is named by the (not yet verified) iss/sub; verification then uses its keys.
        guard let jws = presented.assertion, let iss = presented.assertionClient,
              let client = clients[iss], client.config.authMethods.contains(.privateKeyJWT), let keys = client.assertionKeys
        else { throw TokenError.invalidClient(basic: false) }
        if let formID = form["client_id"], formID != iss { throw TokenError.invalidClient(basic: false) }
        guard let verified = try? JWSVerifier(keys: keys).verify(jws) else { throw TokenError.invalidClient(basic: false) }
        let claims = verified.claims
        let checks = ClaimValidator([IssuerCheck(issuer: client.id), EqualsCheck("sub", client.id), AudienceCheck(accepted: audiences),
                                     ExpirationCheck(maxLifetime: Self.maxAssertionLifetime), NotBeforeCheck(), RequiredStringCheck("jti")])
        guard (try? checks.validate(claims, now: now)) != nil, let exp = claims["exp"].flatMap(NumericDate.seconds), let jti = claims["jti"]?.stringValue else {
            throw TokenError.invalidClient(basic: false)
        }
        let fresh: Bool
        do {
            fresh = try await oneTime.claimOnce(SharedStateKey.make("assertion", client.id, jti), expiresAt: exp.saturatingAdd(ClaimValidator.defaultLeeway), now: now)
        } catch { throw TokenError.temporarilyUnavailable("the one-time check of the assertion is unavailable") }
        guard fresh else { throw TokenError.invalidClient(basic: false) }
        return client
    }

    /// Workload identity: the platform's token, verified with the issuer's published keys (never a key or
    /// JWKS URL the request names), authenticates the one client its subject maps to.
    private func checkPlatformToken(_ jws: CompactJWS, issuer entry: ServiceConfig.TrustedIssuer, form: FormParameters,
                                    now: Int64) async throws(TokenError) -> RegisteredClient {
        let identity: PlatformIdentity
        do { identity = try await workloads.verify(jws, issuer: entry, now: now) } catch {
            scope.logger.info("platform token refused", metadata: ["issuer": "\(entry.issuer)", "reason": "\(error.description)"])
            throw TokenError.invalidClient(basic: false)
        }
        guard let client = clients[identity.clientID] else { throw TokenError.invalidClient(basic: false) }
        if let formID = form["client_id"], formID != client.id { throw TokenError.invalidClient(basic: false) }
        if entry.oneTime {
            guard let jti = identity.claims["jti"]?.stringValue, !jti.isEmpty, jti.utf8.count <= 256 else {
                scope.logger.info("platform token refused", metadata: ["issuer": "\(entry.issuer)", "reason": "one_time needs a jti"])
                throw TokenError.invalidClient(basic: false)
            }
            let fresh: Bool
            do {
                fresh = try await oneTime.claimOnce(SharedStateKey.make("platform", entry.issuer, jti),
                                                    expiresAt: identity.expiresAt.saturatingAdd(ClaimValidator.defaultLeeway), now: now)
            } catch { throw TokenError.temporarilyUnavailable("the one-time check of the assertion is unavailable") }
            guard fresh else { throw TokenError.invalidClient(basic: false) }
        }
        return client
    }

}
