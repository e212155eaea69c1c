public import JOSE

/// OIDC Core §3.1.3.6 / §3.3.2.11: at_hash and c_hash are the base64url of the left half of the
/// hash of the ASCII value, using the hash function of the ID token's `alg`.
public enum TokenHash {
    public static func halfHash(of value: String, algorithm: JWSAlgorithm) throws(JOSEError) -> String {
        let digest = try Digest.hash(algorithm.digest, Array(value.utf8))
        return Base64URL.encode(digest.prefix(digest.count / 2))
    }
}
