import Foundation
public import JSONCore

/// A platform token issuer on loopback (Tests/e2e/platform_issuer.py): Kubernetes-style discovery + JWKS
/// and SPIFFE bundles under `/<name>`, tokens minted with PyJWT as the platform would.
public final class PlatformIssuer: Sendable {
    private let server: LoopbackScript

    private init(server: LoopbackScript) { self.server = server }

    public static func start() async throws -> PlatformIssuer { PlatformIssuer(server: try await LoopbackScript.start("platform_issuer.py")) }

    /// The issuer URL of the issuer named `name` (its discovery document is under it).
    public func issuer(_ name: String) -> String { server.base + "/" + name }

    /// A token of issuer `name`: `claims` over iss/iat/nbf/exp defaults (a null removes one), extra JWS
    /// `headers`, signed with its current key, a `stranger` key, or by `alg` "none" / "HS256-with-public-key".
    public func mint(_ name: String, claims: JSONObject, headers: JSONObject = [:], key: String = "current", alg: String? = nil) async throws -> String {
        var request: JSONObject = ["claims": .object(claims), "headers": .object(headers), "key": .string(key)]
        if let alg { request["alg"] = .string(alg) }
        let body = try await server.fetch("/\(name)/mint", post: JSON.serializeString(.object(request)))
        guard let body, let token = try JSON.parse(Array(body)).objectValue?["token"]?.stringValue else { throw CocoaError(.fileReadCorruptFile) }
        return token
    }

    /// Publishes a new current key; the old ones stay published unless `keepOld` is false. Returns its kid.
    @discardableResult
    public func rotate(_ name: String, keepOld: Bool = true) async throws -> String {
        let body = try await server.fetch("/\(name)/rotate", post: #"{"keep_old": \#(keepOld)}"#)
        return body.flatMap { try? JSON.parse(Array($0)).objectValue?["kid"]?.stringValue } ?? ""
    }

    /// Takes the issuer's JWKS down (503) or back up, and sets the max-age it is served with.
    public func set(_ name: String, down: Bool? = nil, maxAge: Int? = nil) async throws {
        var state = JSONObject()
        if let down { state["down"] = .bool(down) }
        if let maxAge { state["max_age"] = .int(Int64(maxAge)) }
        _ = try await server.fetch("/\(name)/state", post: JSON.serializeString(.object(state)))
    }

    /// How many times the issuer's JWKS (or bundle) was fetched.
    public func fetches(_ name: String) async throws -> Int {
        try await server.fetch("/\(name)/fetches").flatMap { try JSON.parse(Array($0)).objectValue?["jwks"]?.intValue }.map(Int.init) ?? -1
    }
}
