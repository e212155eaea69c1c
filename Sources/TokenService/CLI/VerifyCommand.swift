import ArgumentParser
import Claims
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JOSE
import JSONCore

/// `tokenservice verify`: what a backend does with our tokens, from the command line.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Verify a token against a JWKS and print its claims.")

    @Option(help: "JWKS URL or file.") var jwks: String
    @Option(help: "Required issuer.") var issuer: String?
    @Option(help: "Required audience.") var audience: String?
    @Flag(help: "Verify an ID token (typ JWT) instead of an access token (typ at+jwt).") var idToken = false
    @Option(help: "Seconds of clock skew allowed on exp, nbf and iat (0...3600).") var leeway: Int64 = ClaimValidator.defaultLeeway
    @Argument(help: "The compact JWS.") var token: String

    func validate() throws {
        guard (0...3600).contains(leeway) else { throw ValidationError("--leeway must be 0...3600 seconds") }
    }

    func run() async throws {
        let bytes: [UInt8]
        if jwks.hasPrefix("http://") || jwks.hasPrefix("https://") {
            guard let url = URL(string: jwks) else { throw CommandFailure("bad JWKS URL") }
            let (data, response) = try await URLSession.shared.data(from: url)
            guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw CommandFailure("fetching the JWKS failed") }
            bytes = Array(data)
        } else {
            guard let data = FileManager.default.contents(atPath: jwks) else { throw CommandFailure("cannot read \(jwks)") }
            bytes = Array(data)
        }
        let claims = try Self.verify(token: token, jwks: bytes, issuer: issuer, audience: audience, idToken: idToken, leeway: leeway,
                                     now: Int64(Date().timeIntervalSince1970))
        print(JSON.serializeString(.object(claims)))
    }

    /// An access token must say `typ: at+jwt` (RFC 9068 §4, RFC 8725 §3.11), so that an ID token is never
    /// taken for one; with `idToken`, the reverse.
    static func verify(token: String, jwks: [UInt8], issuer: String?, audience: String?, idToken: Bool = false,
                       leeway: Int64 = ClaimValidator.defaultLeeway, now: Int64) throws -> JSONObject {
        let set: JWKS
        do { set = try JWKS(json: try JSON.parse(jwks)) } catch { throw CommandFailure("the JWKS is not valid: \(error)") }
        var keys: [JWSKey] = []
        for jwk in set.keys { if let k = try? JWSKey(jwk: jwk) { keys.append(k) } }
        let verified: VerifiedJWS
        do { verified = try JWSVerifier(keys: KeySet(keys)).verify(token) } catch { throw CommandFailure("token does not verify: \(error)") }
        if AccessTokenClaims.isAccessTokenType(verified.header["typ"]) == idToken {
            throw CommandFailure(idToken ? "token does not verify: an access token (typ at+jwt) is not an ID token"
                                         : "token does not verify: not an access token (typ must be at+jwt; use --id-token for ID tokens)")
        }
        do {
            try ClaimValidator.token(issuer: issuer, audiences: audience.map { [$0] }, leeway: leeway).validate(verified.claims, now: now)
        } catch { throw CommandFailure("token does not verify: \(error.reason)") }
        return verified.claims
    }
}
