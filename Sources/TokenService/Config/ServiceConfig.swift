import OAuthWire
import JOSE
import JSONCore
import Pipeline

/// The typed, validated configuration (contract: cli-and-config.md). Secrets are resolved.
struct ServiceConfig: Sendable {
    struct Listen: Sendable {
        var host = "127.0.0.1"
        var port = 8080
        /// Between requests of a keep-alive connection (and the most a body may take after its head).
        var idleTimeoutSeconds = 60
        /// From accept, or a request's first byte, until its head is complete.
        var headerTimeoutSeconds = 10
        /// Past this many open connections, new ones are not accepted.
        var maxConnections = 10_000
        /// Peers whose `Forwarded` / `X-Forwarded-For` are believed.
        var trustedProxies: [CIDR] = []
        /// A second listener for `/metrics` and `/healthz` (and `/v1/tokens` with `gatewayAPI`); the
        /// public listener then answers those paths 404.
        var admin: Admin?
        /// HTTPS on both listeners, from PEM files (reloaded on SIGHUP).
        var tls: TLSFiles?

        struct Admin: Sendable, Equatable {
            var host: String
            var port: Int
            var gatewayAPI: Bool
        }

        struct TLSFiles: Sendable, Equatable {
            /// Absolute paths.
            var certificateFile: String
            var privateKeyFile: String
        }
    }

    struct Key: Sendable {
        /// `next`: published ahead of use, never signs; `active`: may sign; `retiring`: published and
        /// verifies until its tokens expire, never signs.
        enum Status: String, Sendable, CaseIterable { case active, next, retiring }
        var kid: String
        var alg: JWSAlgorithm
        var material: Material
        var status: Status
        enum Material: Sendable {
            case privateKeyFile(String)
            case secret([UInt8])
        }
    }

    struct Gateway: Sendable {
        var name: String
        var token: [UInt8]
    }

    enum AuthMethod: String, Sendable, CaseIterable {
        case clientSecretBasic = "client_secret_basic"
        case clientSecretPost = "client_secret_post"
        case privateKeyJWT = "private_key_jwt"
    }

    enum GrantType: String, Sendable, CaseIterable {
        case clientCredentials = "client_credentials"
        case authorizationCode = "authorization_code"
        case implicit
        case password
        case refreshToken = "refresh_token"
        case tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

        /// GenAuth issues ID tokens only for these grants.
        var issuesIDToken: Bool { self == .authorizationCode || self == .implicit || self == .password }
    }

    struct Client: Sendable {
        enum Credential: Sendable {
            /// SHA-256 of the secret: the only form kept in memory, compared in constant time.
            case secretSHA256([UInt8])
            case jwks(JWKS)
            case none
        }
        var clientID: String
        var name: String?
        var credential: Credential
        var authMethods: Set<AuthMethod>
        var grantTypes: Set<GrantType>
        var scopes: [String]
        var audiences: [String]
        var signingKey: String?
        var accessTokenTTL: Int
        var idTokenTTL: Int
        /// Tokens must be bound to a DPoP key (RFC 9449 §5.2 `dpop_bound_access_tokens`).
        var dpopBoundAccessTokens = false
        /// At most this many tokens per minute for this client (429 past it).
        var tokensPerMinute: Int?
        /// Token exchange: the APIs this client is, as a resource server — tokens for these audiences
        /// (besides its own client_id) it may exchange (`token_exchange.subject_audiences`).
        var exchangeSubjectAudiences: [String] = []
        /// Token exchange: how many `act` levels a token it issues may carry (`token_exchange.max_chain`).
        var exchangeMaxChain = 4
        /// Introspection: token audiences (besides its client_id and its exchange audiences) whose
        /// tokens it may introspect (`introspection.audiences`).
        var introspectionAudiences: [String] = []

        /// Transaction Tokens: this client (a gateway or workload) may ask for them (`transaction_tokens.allowed`).
        var transactionTokensAllowed = false

        /// The token audiences this client answers for as a resource server.
        var resourceAudiences: Set<String> { Set([clientID] + exchangeSubjectAudiences) }
    }

    /// Abuse limits: failed client authentications per minute, per client_id and per source address.
    struct Limits: Sendable {
        var failedAuthPerClient = 10
        var failedAuthPerAddress = 100
    }

    /// Process settings, read at start (a reload keeps them): the pipeline worker pool.
    struct Runtime: Sendable, Equatable {
        /// Workers kept running (spares come on top while some are stuck); 0: one per core.
        var pipelineWorkers = 0
        /// A worker whose resident memory passes this is killed and replaced.
        var pipelineMemoryMB = 512
    }

    /// Where replicas share one-time memory and counters.
    enum SharedStateConfig: Sendable, Equatable {
        case inProcess
        case redis(RedisSettings)
    }

    /// The Transaction Token Service (`transaction_tokens`, draft-ietf-oauth-transaction-tokens).
    struct TransactionTokens: Sendable {
        /// The `aud` values a Txn-Token may name (the `audience` a request asks for).
        var trustDomains: [String]
        var ttlSeconds = 60
        /// The kid of the asymmetric key that signs them; nil: the service's signing key when it is
        /// asymmetric, else the first active asymmetric key.
        var signingKey: String?
    }

    /// A platform whose tokens authenticate workloads as clients (`trusted_issuers`): Kubernetes service
    /// accounts, SPIFFE JWT-SVIDs, any OIDC issuer.
    struct TrustedIssuer: Sendable {
        var issuer: String
        /// The JWKS URL; nil: read from the issuer's `/.well-known/openid-configuration`.
        var jwksURI: String?
        /// What the platform token's `aud` must contain.
        var audience: String
        /// Exact `sub` → client_id.
        var subjects: [String: String]
        /// `sub` prefix (written `prefix*`) → client_id, longest first.
        var subjectPrefixes: [(prefix: String, clientID: String)]
        /// Each platform token authenticates once (its `jti` is remembered until it expires).
        var oneTime = false
        /// The least time between two fetches of the issuer's keys (an unknown `kid`, a failed fetch), and
        /// the least time fetched keys are kept.
        var minimumRefetchSeconds = 60

        /// The one client `sub` maps to: an exact entry, else the longest matching prefix.
        func client(for subject: String) -> String? {
            if let exact = subjects[subject] { return exact }
            return subjectPrefixes.first { subject.hasPrefix($0.prefix) }?.clientID
        }

        /// A SPIFFE trust domain (`spiffe://example.org`) whose bundle endpoint is `jwksURI`; its JWT-SVIDs
        /// may leave out `iss` and are told apart by their `sub`.
        var isSPIFFE: Bool { issuer.hasPrefix("spiffe://") }

        /// What tells its key cache apart from another issuer's (and from this issuer's under other settings).
        var cacheKey: String { issuer + "\u{0}" + (jwksURI ?? "") + "\u{0}\(minimumRefetchSeconds)" }

        var clientIDs: Set<String> { Set(subjects.values).union(subjectPrefixes.map(\.clientID)) }
    }

    struct PipelineFunction: Sendable {
        var name: String
        var file: String
        var settings = PipelineFunctionSettings()
    }

    var issuer: String
    var listen = Listen()
    var authorizationEndpoint: String?
    var keys: [Key]
    var signingKey: String
    var gateways: [Gateway]
    var clients: [Client]
    var transactionTokens: TransactionTokens?
    var trustedIssuers: [TrustedIssuer] = []
    /// The pipelines' read-only `env` (string values only).
    var env: JSONObject
    /// Each trigger's functions, in order (`pipelines.<trigger>`).
    var pipelines: [PipelineTrigger: [PipelineFunction]]
    /// What pipeline functions may reach with `axios` (`pipelines.http`).
    var pipelineHTTP: OutboundPolicy = .none
    /// Request headers (lower-case) the operator keeps from pipelines, besides the credentials that
    /// never reach them (`pipelines.redact_headers`).
    var pipelineRedactedHeaders: Set<String> = []
    var limits = Limits()
    var sharedState = SharedStateConfig.inProcess
    var runtime = Runtime()
    /// Hex SHA-256 of the configuration file as read (what `/healthz` and `tokenservice_config_info` show).
    var configDigest = ""
    /// Directory of the config file: relative paths resolve against it.
    var baseDirectory: String
}
