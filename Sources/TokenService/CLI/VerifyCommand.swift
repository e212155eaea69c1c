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
    @Argument(help: "The compact JWS.") var token: String

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
        let claims = try Self.verify(token: token, jwks: bytes, issuer: issuer, audience: audience, now: Int64(Date().timeIntervalSince1970))
        print(JSON.serializeString(.object(claims)))
    }

    static func verify(token: String, jwks: [UInt8], issuer: String?, audience: String?, now: Int64) throws -> JSONObject {
        let set: JWKS
        do { set = try JWKS(json: try JSON.parse(jwks)) } catch { throw CommandFailure("the JWKS is not valid: \(error)") }
        var keys: [JWSKey] = []
        for jwk in set.keys { if let k = try? JWSKey(jwk: jwk) { keys.append(k) } }
        let verified: VerifiedJWS
        do { verified = try JWSVerifier(keys: KeySet(keys)).verify(token) } catch { throw CommandFailure("token does not verify: \(error)") }
        do {
            try ClaimValidator.token(issuer: issuer, audiences: audience.map { [$0] }).validate(verified.claims, now: now)
        } catch { throw CommandFailure("token does not verify: \(error.reason)") }
        return verified.claims
    }
}
