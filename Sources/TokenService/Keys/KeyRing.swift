import Claims
import Foundation
import JOSE
import JSONCore

/// The loaded keys: every key verifies (retiring ones included), only active keys sign, and the
/// public JWKS is serialised once per load.
struct KeyRing: Sendable {
    struct Signers: Sendable {
        let accessToken: JWSSigner
        let idToken: JWSSigner
        var key: JWSKey { accessToken.key }
    }

    let all: KeySet
    /// The keys whose signature makes a token one this service issued: asymmetric ones only. Whoever
    /// holds an HMAC key (every backend verifying HS256 tokens does) can mint for it.
    let issuing: KeySet
    let defaultKid: String
    private let signers: [String: Signers]
    /// `{"keys":[…]}` of the asymmetric keys: public parameters only.
    let jwksJSON: [UInt8]
    /// Signs RFC 9701 introspection answers: the default key when it is published, else the first
    /// active asymmetric key (backends verify it through the JWKS).
    let introspectionSigner: JWSSigner?
    /// Signs Transaction Tokens (`typ: txntoken+jwt`): `transaction_tokens.signing_key`, else the default
    /// key when it is asymmetric, else the first active asymmetric key. Nil when no such key is loaded.
    let transactionTokenSigner: JWSSigner?

    init(config: ServiceConfig) throws(ConfigError) {
        var problems: [String] = []
        var loaded: [JWSKey] = []
        var signers: [String: Signers] = [:]
        for key in config.keys {
            do {
                let jwsKey = try Self.load(key)
                loaded.append(jwsKey)
                if key.status == .active {
                    signers[key.kid] = Signers(accessToken: JWSSigner(key: jwsKey, typ: AccessTokenClaims.type), idToken: JWSSigner(key: jwsKey, typ: "JWT"))
                }
            } catch {
                problems.append("key \(key.kid): \(error)")
            }
        }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        all = KeySet(loaded)
        issuing = KeySet(loaded.filter { !$0.isSymmetric })
        defaultKid = config.signingKey
        self.signers = signers
        jwksJSON = JSON.serialize(all.publicJWKS.json)
        let published = config.keys.filter { $0.status == .active && !$0.alg.isSymmetric }.map(\.kid)
        let kid = published.contains(config.signingKey) ? config.signingKey : published.first
        introspectionSigner = kid.flatMap { signers[$0]?.accessToken.key }.map { JWSSigner(key: $0, typ: "token-introspection+jwt") }
        let txnKid = config.transactionTokens?.signingKey ?? kid
        transactionTokenSigner = txnKid.flatMap { signers[$0]?.accessToken.key }.flatMap { $0.isSymmetric ? nil : $0 }
            .map { JWSSigner(key: $0, typ: TransactionTokenClaims.type) }
    }

    func signers(for kid: String?) -> Signers? { signers[kid ?? defaultKid] }

    /// "A token this service issued", the one definition used by introspection and token exchange:
    /// signed by one of our asymmetric keys (retiring ones included), a `typ` of a token we issue (access,
    /// ID or Txn-Token: never an introspection answer), our `iss`, within `exp`/`nbf` (one leeway), and a
    /// non-empty `sub`. Nil for anything else, HMAC-signed tokens included.
    func verifyIssued(_ token: String, issuer: String, now: Int64) -> IssuedToken? {
        guard let verified = try? JWSVerifier(keys: issuing).verify(token), let kind = IssuedToken.Kind(typ: verified.header["typ"]),
              (try? ClaimValidator.token(issuer: issuer).validate(verified.claims, now: now)) != nil,
              verified.claims["sub"]?.stringValue?.isEmpty == false
        else { return nil }
        return IssuedToken(header: verified.header, claims: verified.claims, kind: kind)
    }

    private static func load(_ key: ServiceConfig.Key) throws -> JWSKey {
        switch key.material {
        case .secret(let secret):
            return try JWSKey(secret: secret, algorithm: key.alg, kid: key.kid)
        case .privateKeyFile(let path):
            try checkPermissions(path)
            guard let pem = FileManager.default.contents(atPath: path) else { throw KeyFileError("cannot read \(path)") }
            return try JWSKey(privateKeyPEM: Array(pem), algorithm: key.alg, kid: key.kid)
        }
    }

    /// A private key readable by group or others is refused (like ssh does).
    static func checkPermissions(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw KeyFileError("cannot read \(path)") }
        if st.st_mode & 0o077 != 0 {
            throw KeyFileError("\(path) is readable by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
    }
}

struct KeyFileError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
