/// Claims that only the service sets. Pipelines can never add, replace or remove them
/// (JWT RFC 7519 §4.1, OIDC Core §2, RFC 9068 §2.2, RFC 8693 `scope`/`client_id`/`act`, RFC 7800 `cnf`, the Txn-Token claims).
/// `act` is set by token exchange only: a hook that could add it would forge delegation.
public enum RegisteredClaims {
    public static let names: Set<String> = [
        "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr", "azp",
        "at_hash", "c_hash", "client_id", "scope", "cnf", "typ", "act",
        // Transaction Tokens (draft-ietf-oauth-transaction-tokens §7.2): set by the service alone.
        "txn", "req_wl", "rctx", "tctx",
    ]
    public static func contains(_ name: String) -> Bool { names.contains(name) }
}
