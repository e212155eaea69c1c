import Testing
@testable import TokenService

/// `shared_state.redis.url`: `redis://` and `rediss://`, ACL users, passwords with escapes.
@Suite struct RedisSettingsTests {
    @Test(arguments: [
        ("redis://127.0.0.1:6380/2", false, nil as String?, nil as String?, "127.0.0.1", 6380, 2),
        ("rediss://cache.internal", true, nil, nil, "cache.internal", 6379, 0),
        ("redis://:s3cret@h:1", false, nil, "s3cret", "h", 1, 0),
        ("rediss://svc:p%40ss%3Aw@[::1]:6390/1", true, "svc", "p@ss:w", "::1", 6390, 1),
        ("redis://svc@h", false, "svc", nil, "h", 6379, 0),
        ("redis://svc:a+b@h", false, "svc", "a+b", "h", 6379, 0),
    ])
    func urls(_ url: String, _ tls: Bool, _ user: String?, _ password: String?, _ host: String, _ port: Int, _ db: Int) throws {
        let s = try #require(RedisSettings(url: url, prefix: "p:", password: nil))
        #expect(s.useTLS == tls && s.username == user && s.password.map { String(decoding: $0, as: UTF8.self) } == password)
        #expect(s.host == host && s.port == port && s.database == db)
    }

    @Test(arguments: ["http://h", "redis://", "redis://h:0", "redis://h:70000", "redis://h/x", "redis://u:%zz@h", "rediss://h:-1", "redis://h/99999"])
    func badURLs(_ url: String) {
        #expect(RedisSettings(url: url, prefix: "p:", password: nil) == nil, "\(url)")
    }

    @Test func theDefaultPrefixNamesTheIssuer() throws {
        let f = try Fixture(issuer: "https://login.example.com") { $0["shared_state"] = ["redis": ["url": "redis://127.0.0.1:6379"]] }
        defer { f.cleanUp() }
        guard case .redis(let settings) = try ConfigLoader.load(path: f.configPath, environment: [:]).sharedState else {
            Issue.record("not redis")
            return
        }
        #expect(settings.prefix == "tokenservice:login.example.com:")
    }
}
