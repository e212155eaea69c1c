import Claims
import JOSE
import JSONCore

/// OpenID Provider Metadata (OIDC Discovery §3, RFC 8414).
enum Discovery {
    static func document(config: ServiceConfig, keys: KeyRing) -> JSONObject {
        let issuer = config.issuer
        func strings(_ a: [String]) -> JSONValue { .array(a.map { .string($0) }) }
        var algs = Set(keys.all.keys.map(\.algorithm.rawValue))
        algs.insert("RS256")
        var scopes = ["openid", "profile", "email", "phone", "address"]
        for client in config.clients { for s in client.scopes where !scopes.contains(s) { scopes.append(s) } }
        // Every grant of the registry that some client may use; client_credentials always (RFC 8414 §2).
        let grants = GrantRegistry.standard.grantTypes
            .filter { g in g == .clientCredentials || config.clients.contains { $0.grantTypes.contains(g) } }.map(\.rawValue)
        var o = JSONObject()
        o.appendNew("issuer", .string(issuer))
        o.appendNew("authorization_endpoint", .string(config.authorizationEndpoint ?? issuer + "/authorize"))
        o.appendNew("token_endpoint", .string(Endpoint.token.url(issuer)))
        o.appendNew("jwks_uri", .string(Endpoint.jwks.url(issuer)))
        o.appendNew("introspection_endpoint", .string(Endpoint.introspect.url(issuer)))
        o.appendNew("grant_types_supported", strings(grants))
        o.appendNew("response_types_supported", strings(["code", "id_token", "token id_token", "code id_token"]))
        o.appendNew("subject_types_supported", strings(["public"]))
        o.appendNew("id_token_signing_alg_values_supported", strings(algs.sorted()))
        o.appendNew("token_endpoint_auth_methods_supported", strings(ServiceConfig.AuthMethod.allCases.map(\.rawValue)))
        o.appendNew("token_endpoint_auth_signing_alg_values_supported",
                    strings(JWSAlgorithm.allCases.filter { !$0.isSymmetric }.map(\.rawValue)))
        o.appendNew("introspection_endpoint_auth_methods_supported", strings(ServiceConfig.AuthMethod.allCases.map(\.rawValue)))
        o.appendNew("scopes_supported", strings(scopes))
        o.appendNew("claims_supported", strings(["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
                                                 "at_hash", "c_hash"] + StandardClaims.supported))
        o.appendNew("dpop_signing_alg_values_supported", strings(DPoPProof.algorithms.map(\.rawValue)))
        if let signer = keys.introspectionSigner {
            o.appendNew("introspection_signing_alg_values_supported", strings([signer.key.algorithm.rawValue]))
        }
        // tokenservice extensions (no registered metadata names these yet): what a token exchange can
        // issue, the trust domains of Transaction Tokens, and the client assertion types workloads may use.
        var issued = [TokenExchangeGrant.accessTokenType, TokenExchangeGrant.jwtType]
        if let txn = config.transactionTokens {
            issued.append(TransactionTokenClaims.tokenTypeURN)
            o.appendNew("transaction_token_trust_domains", strings(txn.trustDomains))
        }
        if config.clients.contains(where: { $0.grantTypes.contains(.tokenExchange) }) {
            o.appendNew("token_exchange_requested_token_types_supported", strings(issued))
        }
        if !config.trustedIssuers.isEmpty {
            o.appendNew("client_assertion_types_supported", strings([WorkloadIdentity.bearerAssertionType, WorkloadIdentity.spiffeAssertionType]))
        }
        o.appendNew("claims_parameter_supported", .bool(false))
        o.appendNew("request_parameter_supported", .bool(false))
        return o
    }
}
