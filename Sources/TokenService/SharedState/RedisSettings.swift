import OAuthWire

/// `shared_state.redis`: `{"url": "redis[s]://[[user]:password@]host[:port][/db]", "prefix": …, "password": SECRET,
/// "ca_file": PATH}`. `rediss://` is TLS (CA from `ca_file` or the system store); a user name in the URL
/// authenticates as that Redis 6 ACL user.
struct RedisSettings: Sendable, Equatable {
    var host: String
    var port: Int
    var database: Int
    var useTLS: Bool
    /// The ACL user; nil: the default user.
    var username: String?
    /// From the URL or `password` (a secret: literal, file or env).
    var password: [UInt8]?
    var prefix: String
    /// The CA that signed the server's certificate (absolute path); nil: the system's trust store.
    var caFile: String?

    /// Parses `redis://` and `rediss://` URLs; nil when the URL is not one.
    init?(url: String, prefix: String, password: [UInt8]?, caFile: String? = nil) {
        let scheme: String
        if url.hasPrefix("redis://") { scheme = "redis://" } else if url.hasPrefix("rediss://") { scheme = "rediss://" } else { return nil }
        var rest = Substring(url.dropFirst(scheme.count))
        var pass = password
        var user: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = userInfo.first.flatMap({ Self.percentDecoded($0) }) else { return nil }
            if !name.isEmpty { user = name }
            if userInfo.count == 2 {
                guard let secret = Self.percentDecoded(userInfo[1]) else { return nil }
                if !secret.isEmpty { pass = Array(secret.utf8) }
            }
            rest = rest[rest.index(after: at)...]
        }
        var db = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            if !dbText.isEmpty {
                guard let n = Int(dbText), n >= 0, n < 16_384 else { return nil }
                db = n
            }
            rest = rest[..<slash]
        }
        var port = 6379
        if let colon = rest.lastIndex(of: ":"), !rest.hasSuffix("]") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            rest = rest[..<colon]
        }
        let host = rest.hasPrefix("[") && rest.hasSuffix("]") ? String(rest.dropFirst().dropLast()) : String(rest)
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
        self.database = db
        self.useTLS = scheme == "rediss://"
        self.username = user
        self.password = pass
        self.prefix = prefix
        self.caFile = caFile
    }

    /// `%XX` decoded (user names and passwords in URLs; `+` is itself); nil for broken escapes or invalid UTF-8.
    private static func percentDecoded(_ s: Substring) -> String? {
        FormParameters.decode(ArraySlice(s.utf8), plusIsSpace: false)
    }
}
