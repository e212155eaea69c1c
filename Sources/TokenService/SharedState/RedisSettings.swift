/// `shared_state.redis`: `{"url": "redis://[:password@]host[:port][/db]", "prefix": "tokenservice:", "password": SECRET}`.
struct RedisSettings: Sendable, Equatable {
    var host: String
    var port: Int
    var database: Int
    /// From the URL or `password` (a secret: literal, file or env).
    var password: [UInt8]?
    var prefix: String

    /// Parses `redis://` URLs; nil when the URL is not one.
    init?(url: String, prefix: String, password: [UInt8]?) {
        guard url.hasPrefix("redis://") else { return nil }
        var rest = Substring(url.dropFirst("redis://".count))
        var pass = password
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            let secret = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).last.map(String.init) ?? ""
            if !secret.isEmpty { pass = Array(secret.utf8) }
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
        self.password = pass
        self.prefix = prefix
    }
}
