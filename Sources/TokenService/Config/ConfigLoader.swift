import OAuthWire
import Claims
import Foundation
import JOSE
import JSONCore
import Pipeline

/// A configuration that failed validation, with every problem found.
struct ConfigError: Error, CustomStringConvertible {
    var problems: [String]
    var description: String { problems.joined(separator: "\n") }
}

enum ConfigLoader {
    static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigError) -> ServiceConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigError(problems: ["\(path): cannot read the file"]) }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(Array(data), baseDirectory: base, environment: environment)
    }

    static func parse(_ bytes: [UInt8], baseDirectory: String, environment: [String: String]) throws(ConfigError) -> ServiceConfig {
        let root: JSONValue
        do { root = try JSON.parse(bytes) } catch { throw ConfigError(problems: ["config is not valid JSON: \(error.message)"]) }
        var r = ConfigReader(baseDirectory: baseDirectory, environment: environment)
        let top: Set<String> = ["issuer", "listen", "authorization_endpoint", "keys", "signing_key", "gateways", "clients", "env", "pipelines",
                                "limits", "shared_state", "runtime", "transaction_tokens", "trusted_issuers"]
        guard let o = r.object(root, "$", known: top) else { throw ConfigError(problems: r.problems.isEmpty ? ["config must be a JSON object"] : r.problems) }

        let issuer = r.string(o, "issuer", "$", required: true) ?? ""
        if !issuer.isEmpty, URL(string: issuer)?.scheme.map({ ["http", "https"].contains($0) }) != true || issuer.hasSuffix("/") || issuer.contains("?") || issuer.contains("#") {
            r.problem("$.issuer", "must be an http(s) URL without query, fragment or trailing slash")
        }
        var listen = ServiceConfig.Listen()
        if let l = r.object(o["listen"], "$.listen", known: ["host", "port", "idle_timeout_seconds", "header_timeout_seconds", "max_connections",
                                                              "trusted_proxies", "admin", "tls"]) {
            readEdge(&r, l, into: &listen)
            listen.host = r.string(l, "host", "$.listen") ?? listen.host
            listen.port = r.int(l, "port", "$.listen", range: 0...65535) ?? listen.port
            listen.idleTimeoutSeconds = r.int(l, "idle_timeout_seconds", "$.listen", range: 1...3600) ?? listen.idleTimeoutSeconds
            listen.headerTimeoutSeconds = r.int(l, "header_timeout_seconds", "$.listen", range: 1...600) ?? listen.headerTimeoutSeconds
            listen.maxConnections = r.int(l, "max_connections", "$.listen", range: 1...1_000_000) ?? listen.maxConnections
        }
        let authz = r.string(o, "authorization_endpoint", "$")

        var keys: [ServiceConfig.Key] = []
        for (i, item) in (r.array(o, "keys", "$") ?? []).enumerated() {
            if let key = readKey(&r, item, "$.keys[\(i)]") { keys.append(key) } else if let kid = item.objectValue?["kid"]?.stringValue {
                r.invalidKids.insert(kid)
            }
        }
        if keys.isEmpty { r.problem("$.keys", "at least one key is required") }
        var seenKids = Set<String>()
        for key in keys where !seenKids.insert(key.kid).inserted { r.problem("$.keys", "duplicate kid \"\(key.kid)\"") }

        let signingKey = r.string(o, "signing_key", "$", required: true) ?? ""
        checkSigningKey(&r, signingKey, keys, "$.signing_key")

        var gateways: [ServiceConfig.Gateway] = []
        for (i, item) in (r.array(o, "gateways", "$") ?? []).enumerated() {
            let path = "$.gateways[\(i)]"
            guard let g = r.object(item, path, known: ["name", "token"]) else { continue }
            let name = r.string(g, "name", path, required: true) ?? ""
            guard let token = r.secret(g["token"], "\(path).token") else {
                if g["token"] == nil { r.problem(path, "\"token\" is required") }
                continue
            }
            if token.count < 16 { r.problem("\(path).token", "must be at least 16 bytes") }
            gateways.append(.init(name: name, token: token))
        }

        let trustedIssuers = readTrustedIssuers(&r, o["trusted_issuers"])
        let workloadClients = trustedIssuers.reduce(into: Set<String>()) { $0.formUnion($1.clientIDs) }
        var clients: [ServiceConfig.Client] = []
        var seenClients = Set<String>()
        for (i, item) in (r.array(o, "clients", "$") ?? []).enumerated() {
            guard let client = readClient(&r, item, "$.clients[\(i)]", keys: keys, workloadClients: workloadClients) else { continue }
            if !seenClients.insert(client.clientID).inserted { r.problem("$.clients[\(i)]", "duplicate client_id \"\(client.clientID)\"") }
            clients.append(client)
        }
        for (i, entry) in trustedIssuers.enumerated() {
            for id in entry.clientIDs.sorted() where !seenClients.contains(id) {
                r.problem("$.trusted_issuers[\(i)].subjects", "maps to client_id \"\(id)\", which is not a client")
            }
        }
        let transactionTokens = readTransactionTokens(&r, o["transaction_tokens"], keys: keys)
        for (i, client) in clients.enumerated() where client.transactionTokensAllowed {
            if transactionTokens == nil { r.problem("$.clients[\(i)].transaction_tokens", "needs the top-level \"transaction_tokens\" settings") }
            if !client.grantTypes.contains(.tokenExchange) {
                r.problem("$.clients[\(i)].transaction_tokens", "needs \(ServiceConfig.GrantType.tokenExchange.rawValue) in grant_types")
            }
            if client.clientID.contains(TransactionTokenClaims.workloadSeparator) {
                r.problem("$.clients[\(i)].client_id", "a workload that asks for Txn-Tokens is listed in their req_wl, comma-separated: no \",\" in its client_id")
            }
        }

        var env = JSONObject()
        if let e = o["env"] {
            if let eo = e.objectValue {
                for (k, v) in eo {
                    if v.stringValue != nil { env.appendNew(k, v) } else { r.problem("$.env.\(k)", "must be a string") }
                }
            } else {
                r.problem("$.env", "must be an object of strings")
            }
        }

        var pipelines: [PipelineTrigger: [ServiceConfig.PipelineFunction]] = [:]
        var outbound = OutboundPolicy.none
        var redactHeaders: [String] = []
        if let p = r.object(o["pipelines"], "$.pipelines", known: Set(PipelineTrigger.allCases.map(\.rawValue)).union(["http", "redact_headers"])) {
            redactHeaders = (r.strings(p, "redact_headers", "$.pipelines") ?? []).map { $0.lowercased() }
            for trigger in PipelineTrigger.allCases { pipelines[trigger] = readPipeline(&r, p, trigger.rawValue) }
            outbound = readOutbound(&r, p["http"])
        }

        var limits = ServiceConfig.Limits()
        if let l = r.object(o["limits"], "$.limits", known: ["failed_auth_per_minute"]),
           let f = r.object(l["failed_auth_per_minute"], "$.limits.failed_auth_per_minute", known: ["client", "address"]) {
            limits.failedAuthPerClient = r.int(f, "client", "$.limits.failed_auth_per_minute", range: 1...1_000_000) ?? limits.failedAuthPerClient
            limits.failedAuthPerAddress = r.int(f, "address", "$.limits.failed_auth_per_minute", range: 1...1_000_000) ?? limits.failedAuthPerAddress
        }
        var shared = ServiceConfig.SharedStateConfig.inProcess
        if let st = r.object(o["shared_state"], "$.shared_state", known: ["redis"]),
           let redis = r.object(st["redis"], "$.shared_state.redis", known: ["url", "prefix", "password", "ca_file"]) {
            let url = r.string(redis, "url", "$.shared_state.redis", required: true) ?? ""
            // Two deployments (issuers) on one Redis never share keys unless told to.
            let prefix = r.string(redis, "prefix", "$.shared_state.redis") ?? "tokenservice:\(URL(string: issuer)?.host ?? issuer):"
            let password = r.secret(redis["password"], "$.shared_state.redis.password")
            let caFile = r.string(redis, "ca_file", "$.shared_state.redis").map { r.resolve($0) }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                r.problem("$.shared_state.redis.ca_file", "cannot read \(caFile)")
            }
            if let settings = RedisSettings(url: url, prefix: prefix, password: password, caFile: caFile) {
                if caFile != nil, !settings.useTLS { r.problem("$.shared_state.redis.ca_file", "needs a rediss:// URL") }
                shared = .redis(settings)
            } else if !url.isEmpty {
                r.problem("$.shared_state.redis.url", "must be redis[s]://[[user]:password@]host[:port][/db]")
            }
        }

        var runtime = ServiceConfig.Runtime()
        if let rt = r.object(o["runtime"], "$.runtime", known: ["pipeline_workers", "pipeline_memory_mb"]) {
            runtime.pipelineWorkers = r.int(rt, "pipeline_workers", "$.runtime", range: 0...64) ?? runtime.pipelineWorkers
            runtime.pipelineMemoryMB = r.int(rt, "pipeline_memory_mb", "$.runtime", range: 64...65_536) ?? runtime.pipelineMemoryMB
        }

        guard r.problems.isEmpty else { throw ConfigError(problems: r.problems) }
        var config = ServiceConfig(issuer: issuer, listen: listen, authorizationEndpoint: authz, keys: keys, signingKey: signingKey,
                             gateways: gateways, clients: clients, env: env, pipelines: pipelines,
                             pipelineHTTP: outbound, baseDirectory: baseDirectory)
        config.limits = limits
        config.transactionTokens = transactionTokens
        config.trustedIssuers = trustedIssuers
        config.sharedState = shared
        config.runtime = runtime
        config.pipelineRedactedHeaders = Set(redactHeaders)
        config.configDigest = ((try? Digest.hash(.sha256, bytes)) ?? []).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        return config
    }

    /// `listen.trusted_proxies`, `listen.admin` and `listen.tls`.
    private static func readEdge(_ r: inout ConfigReader, _ l: JSONObject, into listen: inout ServiceConfig.Listen) {
        for (i, text) in (r.strings(l, "trusted_proxies", "$.listen") ?? []).enumerated() {
            if let range = CIDR(text) { listen.trustedProxies.append(range) } else {
                r.problem("$.listen.trusted_proxies[\(i)]", "\"\(text)\" is not an IP address or CIDR range")
            }
        }
        if let a = r.object(l["admin"], "$.listen.admin", known: ["host", "port", "gateway_api"]) {
            let port = r.int(a, "port", "$.listen.admin", range: 0...65535)
            if port == nil, a["port"] == nil { r.problem("$.listen.admin", "\"port\" is required") }
            listen.admin = .init(host: r.string(a, "host", "$.listen.admin") ?? "127.0.0.1", port: port ?? 0,
                                 gatewayAPI: r.bool(a, "gateway_api", "$.listen.admin") ?? false)
        }
        if let t = r.object(l["tls"], "$.listen.tls", known: ["certificate_file", "private_key_file"]) {
            let certificate = r.string(t, "certificate_file", "$.listen.tls", required: true).map { r.resolve($0) }
            let key = r.string(t, "private_key_file", "$.listen.tls", required: true).map { r.resolve($0) }
            if let certificate, !FileManager.default.isReadableFile(atPath: certificate) {
                r.problem("$.listen.tls.certificate_file", "cannot read \(certificate)")
            }
            if let key {
                do { try KeyRing.checkPermissions(key) } catch { r.problem("$.listen.tls.private_key_file", "\(error)") }
            }
            if let certificate, let key { listen.tls = .init(certificateFile: certificate, privateKeyFile: key) }
        }
    }

    private static func readKey(_ r: inout ConfigReader, _ item: JSONValue, _ path: String) -> ServiceConfig.Key? {
        guard let k = r.object(item, path, known: ["kid", "alg", "private_key_file", "secret", "status"]) else { return nil }
        let kid = r.string(k, "kid", path, required: true) ?? ""
        let algName = r.string(k, "alg", path, required: true) ?? ""
        guard let alg = JWSAlgorithm(rawValue: algName) else {
            if !algName.isEmpty { r.problem("\(path).alg", "unsupported algorithm \(algName)") }
            return nil
        }
        var status = ServiceConfig.Key.Status.active
        if let s = r.string(k, "status", path) {
            if let st = ServiceConfig.Key.Status(rawValue: s) { status = st } else { r.problem("\(path).status", "must be active, next or retiring") }
        }
        let material: ServiceConfig.Key.Material
        if alg.isSymmetric {
            if k["private_key_file"] != nil { r.problem(path, "\(alg.rawValue) keys take \"secret\", not \"private_key_file\"") }
            guard let secret = r.secret(k["secret"], "\(path).secret", privateFile: true) else {
                if k["secret"] == nil { r.problem(path, "\"secret\" is required for \(alg.rawValue)") }
                return nil
            }
            if !Self.looksRandom(secret) {
                r.problem("\(path).secret", "has too little entropy for an HMAC key (use `tokenservice keys generate --alg \(alg.rawValue)`)")
            }
            material = .secret(secret)
        } else {
            if k["secret"] != nil { r.problem(path, "\(alg.rawValue) keys take \"private_key_file\", not \"secret\"") }
            guard let file = r.string(k, "private_key_file", path, required: true) else { return nil }
            material = .privateKeyFile(r.resolve(file))
        }
        return .init(kid: kid, alg: alg, material: material, status: status)
    }

    private static func checkSigningKey(_ r: inout ConfigReader, _ kid: String, _ keys: [ServiceConfig.Key], _ path: String) {
        guard !kid.isEmpty else { return }
        guard let key = keys.first(where: { $0.kid == kid }) else {
            if !r.invalidKids.contains(kid) { r.problem(path, "no key with kid \"\(kid)\"") }
            return
        }
        if key.status != .active { r.problem(path, "key \"\(kid)\" is \(key.status.rawValue) and never signs") }
    }

    /// `transaction_tokens`: trust domains, lifetime and the asymmetric key that signs Txn-Tokens.
    private static func readTransactionTokens(_ r: inout ConfigReader, _ value: JSONValue?, keys: [ServiceConfig.Key]) -> ServiceConfig.TransactionTokens? {
        let path = "$.transaction_tokens"
        guard let t = r.object(value, path, known: ["trust_domains", "ttl_seconds", "signing_key"]) else { return nil }
        let domains = r.strings(t, "trust_domains", path) ?? []
        if domains.isEmpty { r.problem(path, "\"trust_domains\" needs at least one trust domain") }
        for d in domains where d.isEmpty || d.utf8.count > 255 { r.problem("\(path).trust_domains", "\"\(d)\" must be 1-255 bytes") }
        var settings = ServiceConfig.TransactionTokens(trustDomains: domains)
        settings.ttlSeconds = r.int(t, "ttl_seconds", path, range: 1...3600) ?? settings.ttlSeconds
        settings.signingKey = r.string(t, "signing_key", path)
        let signable = keys.filter { $0.status == .active && !$0.alg.isSymmetric }
        if let kid = settings.signingKey {
            if keys.first(where: { $0.kid == kid })?.alg.isSymmetric == true {
                r.problem("\(path).signing_key", "\"\(kid)\" is an HMAC key: Txn-Tokens are verified by every workload, so they are signed asymmetrically")
            } else if !signable.contains(where: { $0.kid == kid }), !r.invalidKids.contains(kid) {
                r.problem("\(path).signing_key", "no active asymmetric key with kid \"\(kid)\"")
            }
        } else if signable.isEmpty, !keys.isEmpty {
            r.problem(path, "Txn-Tokens need an active asymmetric key (RS*, PS*, ES*, EdDSA)")
        }
        return settings
    }

    /// `trusted_issuers`: the platforms whose tokens authenticate workloads as clients.
    private static func readTrustedIssuers(_ r: inout ConfigReader, _ value: JSONValue?) -> [ServiceConfig.TrustedIssuer] {
        guard let value else { return [] }
        guard let items = value.arrayValue else { r.problem("$.trusted_issuers", "must be an array"); return [] }
        var out: [ServiceConfig.TrustedIssuer] = []
        for (i, item) in items.enumerated() {
            let path = "$.trusted_issuers[\(i)]"
            guard let t = r.object(item, path, known: ["issuer", "jwks_uri", "audience", "subjects", "one_time",
                                                                  "jwks_min_refetch_seconds"]) else { continue }
            let issuer = r.string(t, "issuer", path, required: true) ?? ""
            let spiffe = issuer.hasPrefix("spiffe://")
            if spiffe {
                let domain = issuer.dropFirst("spiffe://".count)
                if domain.isEmpty || domain.contains("/") || domain.contains(where: { $0.isUppercase || $0 == ":" }) {
                    r.problem("\(path).issuer", "a SPIFFE trust domain is spiffe://<lower-case name> (no path)")
                }
                if t["jwks_uri"] == nil { r.problem(path, "a SPIFFE trust domain needs \"jwks_uri\" (its bundle endpoint)") }
            } else if !issuer.isEmpty, !isFetchableURL(issuer) {
                r.problem("\(path).issuer", "must be an https URL (http only on loopback) or spiffe://<trust domain>")
            }
            let jwks = r.string(t, "jwks_uri", path)
            if let jwks, !isFetchableURL(jwks) { r.problem("\(path).jwks_uri", "must be an https URL (http only on loopback)") }
            let audience = r.string(t, "audience", path, required: true) ?? ""
            var entry = ServiceConfig.TrustedIssuer(issuer: issuer, jwksURI: jwks, audience: audience, subjects: [:], subjectPrefixes: [])
            entry.oneTime = r.bool(t, "one_time", path) ?? false
            entry.minimumRefetchSeconds = r.int(t, "jwks_min_refetch_seconds", path, range: 1...3600) ?? entry.minimumRefetchSeconds
            if let value = t["subjects"], value.objectValue == nil { r.problem("\(path).subjects", "must be an object of subject → client_id") }
            if let subjects = t["subjects"]?.objectValue {
                for (sub, client) in subjects {
                    guard let id = client.stringValue, !id.isEmpty else { r.problem("\(path).subjects.\(sub)", "must be a client_id"); continue }
                    if sub.hasSuffix("*") {
                        let prefix = String(sub.dropLast())
                        if prefix.isEmpty { r.problem("\(path).subjects", "\"*\" alone would map every subject; give a prefix") ; continue }
                        entry.subjectPrefixes.append((prefix, id))
                    } else if sub.contains("*") {
                        r.problem("\(path).subjects.\(sub)", "\"*\" is allowed only at the end (a prefix)")
                    } else {
                        entry.subjects[sub] = id
                    }
                }
            }
            if entry.subjects.isEmpty && entry.subjectPrefixes.isEmpty { r.problem(path, "\"subjects\" needs at least one subject → client_id entry") }
            entry.subjectPrefixes.sort { $0.prefix.count > $1.prefix.count }
            for (a, b) in zip(entry.subjectPrefixes, entry.subjectPrefixes.dropFirst()) where a.prefix == b.prefix {
                r.problem("\(path).subjects", "prefix \"\(a.prefix)*\" is given twice")
            }
            if out.contains(where: { $0.issuer == issuer }) { r.problem(path, "issuer \(issuer) is given twice") }
            out.append(entry)
        }
        return out
    }

    /// An https URL, or http to a loopback host (tests, sidecars).
    static func isFetchableURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              url.user == nil, url.fragment == nil else { return false }
        if scheme == "https" { return true }
        return scheme == "http" && ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
    }

    private static func readClient(_ r: inout ConfigReader, _ item: JSONValue, _ path: String, keys: [ServiceConfig.Key],
                                   workloadClients: Set<String>) -> ServiceConfig.Client? {
        let known: Set<String> = ["client_id", "client_secret", "client_secret_sha256", "jwks", "token_endpoint_auth_methods",
                                  "grant_types", "scopes", "audiences", "signing_key", "access_token_ttl", "id_token_ttl", "name",
                                  "dpop_bound_access_tokens", "rate_limit", "token_exchange", "introspection", "transaction_tokens"]
        guard let c = r.object(item, path, known: known) else { return nil }
        let id = r.string(c, "client_id", path, required: true) ?? ""
        var credentials: [ServiceConfig.Client.Credential] = []
        if let secret = r.secret(c["client_secret"], "\(path).client_secret") {
            if secret.count < 32 { r.problem("\(path).client_secret", "must be at least 32 bytes") }
            if let digest = try? Digest.hash(.sha256, secret) { credentials.append(.secretSHA256(digest)) } else {
                r.problem("\(path).client_secret", "could not be hashed (OpenSSL)")
            }
        }
        if let hex = r.string(c, "client_secret_sha256", path) {
            if let digest = Self.hexBytes(hex), digest.count == 32 { credentials.append(.secretSHA256(digest)) } else {
                r.problem("\(path).client_secret_sha256", "must be 64 hex digits (SHA-256 of the secret)")
            }
        }
        if let jwksValue = c["jwks"] {
            do { credentials.append(.jwks(try JWKS(json: jwksValue))) } catch { r.problem("\(path).jwks", "\(error)") }
        }
        if credentials.count > 1 { r.problem(path, "give one of client_secret, client_secret_sha256 or jwks") }
        let credential = credentials.first ?? .none

        var methods: Set<ServiceConfig.AuthMethod>
        switch credential {
        case .secretSHA256: methods = [.clientSecretBasic, .clientSecretPost]
        case .jwks: methods = [.privateKeyJWT]
        case .none: methods = []
        }
        if let names = r.strings(c, "token_endpoint_auth_methods", path) {
            var chosen = Set<ServiceConfig.AuthMethod>()
            for n in names {
                guard let m = ServiceConfig.AuthMethod(rawValue: n) else { r.problem("\(path).token_endpoint_auth_methods", "unknown method \(n)"); continue }
                if !methods.contains(m) { r.problem("\(path).token_endpoint_auth_methods", "\(n) needs a credential this client does not have") }
                chosen.insert(m)
            }
            methods = chosen.intersection(methods)
        }
        var grants = Set<ServiceConfig.GrantType>()
        for n in r.strings(c, "grant_types", path) ?? ["client_credentials"] {
            if let g = ServiceConfig.GrantType(rawValue: n) { grants.insert(g) } else { r.problem("\(path).grant_types", "unknown grant type \(n)") }
        }
        // A client a trusted issuer maps to authenticates with its platform's token instead.
        let hasCredential = !methods.isEmpty || workloadClients.contains(id)
        if grants.contains(.clientCredentials) && !hasCredential {
            r.problem(path, "client_credentials needs a client credential (client_secret, client_secret_sha256, jwks or a trusted_issuers mapping)")
        }
        let scopes = r.strings(c, "scopes", path) ?? []
        for s in scopes where !OAuthSyntax.isScopeToken(s) { r.problem("\(path).scopes", "\"\(s)\" is not a valid scope token") }
        let audiences = r.strings(c, "audiences", path) ?? []
        if audiences.isEmpty { r.problem(path, "\"audiences\" needs at least one audience") }
        let signing = r.string(c, "signing_key", path)
        if let signing { checkSigningKey(&r, signing, keys, "\(path).signing_key") }
        let atTTL = r.int(c, "access_token_ttl", path, range: 1...86_400 * 30) ?? 3600
        let idTTL = r.int(c, "id_token_ttl", path, range: 1...86_400 * 30) ?? 3600
        if grants.contains(.tokenExchange) && !hasCredential { r.problem(path, "token exchange needs a client credential") }
        var client = ServiceConfig.Client(clientID: id, name: r.string(c, "name", path), credential: credential, authMethods: methods,
                                          grantTypes: grants, scopes: scopes, audiences: audiences, signingKey: signing,
                                          accessTokenTTL: atTTL, idTokenTTL: idTTL)
        client.dpopBoundAccessTokens = r.bool(c, "dpop_bound_access_tokens", path) ?? false
        if let rl = r.object(c["rate_limit"], "\(path).rate_limit", known: ["tokens_per_minute"]) {
            client.tokensPerMinute = r.int(rl, "tokens_per_minute", "\(path).rate_limit", range: 1...10_000_000)
        }
        if let te = r.object(c["token_exchange"], "\(path).token_exchange", known: ["subject_audiences", "max_chain"]) {
            client.exchangeSubjectAudiences = r.strings(te, "subject_audiences", "\(path).token_exchange") ?? []
            client.exchangeMaxChain = r.int(te, "max_chain", "\(path).token_exchange", range: 1...32) ?? client.exchangeMaxChain
        }
        if let ti = r.object(c["introspection"], "\(path).introspection", known: ["audiences"]) {
            client.introspectionAudiences = r.strings(ti, "audiences", "\(path).introspection") ?? []
        }
        if let tt = r.object(c["transaction_tokens"], "\(path).transaction_tokens", known: ["allowed"]) {
            client.transactionTokensAllowed = r.bool(tt, "allowed", "\(path).transaction_tokens") ?? false
        }
        return client
    }

    private static func readPipeline(_ r: inout ConfigReader, _ p: JSONObject, _ trigger: String) -> [ServiceConfig.PipelineFunction] {
        var out: [ServiceConfig.PipelineFunction] = []
        for (i, item) in (r.array(p, trigger, "$.pipelines") ?? []).enumerated() {
            let path = "$.pipelines.\(trigger)[\(i)]"
            guard let f = r.object(item, path, known: ["name", "file", "enabled", "async", "timeout_ms", "terminate_on_timeout"]) else { continue }
            var fn = ServiceConfig.PipelineFunction(name: r.string(f, "name", path, required: true) ?? "", file: "")
            if let file = r.string(f, "file", path, required: true) { fn.file = r.resolve(file) }
            fn.settings.enabled = r.bool(f, "enabled", path) ?? fn.settings.enabled
            fn.settings.async = r.bool(f, "async", path) ?? fn.settings.async
            fn.settings.timeoutMS = r.int(f, "timeout_ms", path, range: 1...60_000) ?? fn.settings.timeoutMS
            fn.settings.terminateOnTimeout = r.bool(f, "terminate_on_timeout", path) ?? fn.settings.terminateOnTimeout
            if out.contains(where: { $0.name == fn.name }) { r.problem(path, "duplicate function name \"\(fn.name)\"") }
            out.append(fn)
        }
        return out
    }

    /// `pipelines.http`: the hosts `axios` may reach and its bounds. No entry: every call is refused.
    private static func readOutbound(_ r: inout ConfigReader, _ value: JSONValue?) -> OutboundPolicy {
        let path = "$.pipelines.http"
        guard let h = r.object(value, path, known: ["allow", "max_response_bytes", "max_requests_per_call"]) else { return .none }
        var allow: [OutboundPolicy.Entry] = []
        for entry in r.strings(h, "allow", path) ?? [] {
            if let e = OutboundPolicy.entry(entry) { allow.append(e) } else {
                r.problem("\(path).allow", "\"\(entry)\" is not a host or host:port (IPv6 in brackets)")
            }
        }
        return OutboundPolicy(
            allow: allow,
            maxResponseBytes: r.int(h, "max_response_bytes", path, range: 1...(64 << 20)) ?? OutboundPolicy.defaultMaxResponseBytes,
            maxRequestsPerCall: r.int(h, "max_requests_per_call", path, range: 0...1000) ?? OutboundPolicy.defaultMaxRequestsPerCall)
    }

    /// An HMAC secret that is not obviously guessable: its bytes' empirical entropy adds up to at least
    /// 128 bits, and it is not a shorter block repeated. One repeated character, a word repeated or a short
    /// counting pattern fail; `keys generate` output and random hex or base64 of 32 bytes pass.
    static func looksRandom(_ secret: [UInt8]) -> Bool {
        guard !secret.isEmpty else { return false }
        var counts = [Int](repeating: 0, count: 256)
        for b in secret { counts[Int(b)] += 1 }
        let n = Double(secret.count)
        let bitsPerByte = counts.reduce(0.0) { sum, c in c == 0 ? sum : sum - Double(c) / n * log2(Double(c) / n) }
        guard bitsPerByte * n >= 128 else { return false }
        for period in 1...(secret.count / 2) where secret.count % period == 0 {
            if secret.indices.allSatisfy({ secret[$0] == secret[$0 % period] }) { return false }
        }
        return true
    }

    static func hexBytes(_ hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            guard let hi = hexValue(chars[i]), let lo = hexValue(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
}
