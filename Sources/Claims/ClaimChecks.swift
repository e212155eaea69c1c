public import JSONCore

/// Why a token's claims were refused (the reason names the claim, never its value's secrets).
public struct ClaimCheckError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// One check of a token's claims at a point in time (jwt-kit style: small, reusable, composable).
public protocol ClaimCheck: Sendable {
    func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError)
}

/// The one validator of registered time and identity claims, used for client assertions, DPoP
/// proofs, subject and actor tokens, introspection and `tokenservice verify`. Every time check
/// allows the same clock skew, `leeway` (default `defaultLeeway`).
public struct ClaimValidator: Sendable {
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
    public static let defaultLeeway: Int64 = 30
    public var checks: [any ClaimCheck]

    public init(_ checks: [any ClaimCheck]) { self.checks = checks }

    public func validate(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        for c in checks { try c.check(claims, now: now) }
    }

    /// What a token of ours must satisfy: our issuer, not expired, not before its time, and (when
    /// given) one of the audiences.
    public static func token(issuer: String?, audiences: Set<String>? = nil, leeway: Int64 = defaultLeeway) -> ClaimValidator {
        var checks: [any ClaimCheck] = [ExpirationCheck(leeway: leeway), NotBeforeCheck(leeway: leeway)]
        if let issuer { checks.append(IssuerCheck(issuer: issuer)) }
        if let audiences { checks.append(AudienceCheck(accepted: audiences)) }
        return ClaimValidator(checks)
    }
}

/// `exp` is required and not passed (with leeway); optionally no further away than `maxLifetime`.
public struct ExpirationCheck: ClaimCheck {
    public var leeway: Int64
    public var maxLifetime: Int64?
    public init(leeway: Int64 = ClaimValidator.defaultLeeway, maxLifetime: Int64? = nil) {
        self.leeway = leeway
        self.maxLifetime = maxLifetime
    }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard let exp = try NumericDate.read("exp", in: claims) else { throw ClaimCheckError("exp is missing") }
        guard exp.saturatingAdd(leeway) > now else { throw ClaimCheckError("the token expired") }
        if let maxLifetime, exp.saturatingSubtract(now) > maxLifetime { throw ClaimCheckError("exp is too far in the future") }
    }
}

/// `nbf`, when present, has come (with leeway).
public struct NotBeforeCheck: ClaimCheck {
    public var leeway: Int64
    public init(leeway: Int64 = ClaimValidator.defaultLeeway) { self.leeway = leeway }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard let nbf = try NumericDate.read("nbf", in: claims) else { return }
        guard nbf <= now.saturatingAdd(leeway) else { throw ClaimCheckError("the token is not valid yet") }
    }
}

/// `iat` is required and within `window` seconds of now, either way (DPoP proofs, RFC 9449 §4.3).
public struct IssuedAtWindowCheck: ClaimCheck {
    public var window: Int64
    public init(window: Int64) { self.window = window }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard let iat = try NumericDate.read("iat", in: claims) else { throw ClaimCheckError("iat is missing") }
        let distance = iat.saturatingSubtract(now)
        guard distance <= window, distance >= -window else { throw ClaimCheckError("iat is not within \(window) s of now") }
    }
}

/// `iat`, when present, is not in the future (with leeway): a token cannot be from later than now.
public struct IssuedAtCheck: ClaimCheck {
    public var leeway: Int64
    public init(leeway: Int64 = ClaimValidator.defaultLeeway) { self.leeway = leeway }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard let iat = try NumericDate.read("iat", in: claims) else { return }
        guard iat <= now.saturatingAdd(leeway) else { throw ClaimCheckError("iat is in the future") }
    }
}

/// `iss` is exactly `issuer`.
public struct IssuerCheck: ClaimCheck {
    public var issuer: String
    public init(issuer: String) { self.issuer = issuer }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard claims["iss"]?.stringValue == issuer else { throw ClaimCheckError("the issuer is not \(issuer)") }
    }
}

/// `aud` (a string or an array) contains one of `accepted`.
public struct AudienceCheck: ClaimCheck {
    public var accepted: Set<String>
    public init(accepted: Set<String>) { self.accepted = accepted }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard Self.matches(claims["aud"], accepted) else { throw ClaimCheckError("the audience is not accepted") }
    }
    public static func matches(_ aud: JSONValue?, _ accepted: Set<String>) -> Bool {
        switch aud {
        case .string(let s)?: return accepted.contains(s)
        case .array(let a)?: return a.contains { $0.stringValue.map(accepted.contains) ?? false }
        default: return false
        }
    }
}

/// A claim that must be a non-empty string of bounded length (e.g. `jti`).
public struct RequiredStringCheck: ClaimCheck {
    public var name: String
    public var maxLength: Int
    public init(_ name: String, maxLength: Int = 256) {
        self.name = name
        self.maxLength = maxLength
    }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard let s = claims[name]?.stringValue, !s.isEmpty, s.utf8.count <= maxLength else {
            throw ClaimCheckError("\(name) must be a non-empty string of at most \(maxLength) bytes")
        }
    }
}

/// A claim that must equal a value.
public struct EqualsCheck: ClaimCheck {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    public func check(_ claims: JSONObject, now: Int64) throws(ClaimCheckError) {
        guard claims[name]?.stringValue == value else { throw ClaimCheckError("\(name) is not \(value)") }
    }
}
