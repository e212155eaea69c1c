public import JSONCore
import Foundation

/// Maps the GenAuth/Authing user object (camelCase) to OpenID Connect Core §5.1 standard claims,
/// releasing only those that the granted scopes ask for (§5.4).
public enum StandardClaims {
    /// (claim, user-object field) per scope, in the order the claims appear in tokens.
    static let profile: [(claim: String, field: String)] = [
        ("name", "name"), ("family_name", "familyName"), ("given_name", "givenName"),
        ("middle_name", "middleName"), ("nickname", "nickname"), ("preferred_username", "preferredUsername"),
        ("profile", "profile"), ("picture", "photo"), ("website", "website"), ("gender", "gender"),
        ("birthdate", "birthdate"), ("zoneinfo", "zoneinfo"), ("locale", "locale"), ("updated_at", "updatedAt"),
    ]
    static let email: [(claim: String, field: String)] = [("email", "email"), ("email_verified", "emailVerified")]
    static let phone: [(claim: String, field: String)] = [("phone_number", "phone"), ("phone_number_verified", "phoneVerified")]
    static let booleanClaims: Set<String> = ["email_verified", "phone_number_verified"]
    static let addressMembers: [(claim: String, field: String)] = [
        ("formatted", "formatted"), ("street_address", "streetAddress"), ("locality", "locality"),
        ("region", "region"), ("postal_code", "postalCode"), ("country", "country"),
    ]

    /// Every claim name this mapping can produce (discovery's `claims_supported`).
    public static var supported: [String] {
        (profile + email + phone).map(\.claim) + ["address"]
    }

    public static func claims(for user: JSONObject, scopes: Set<String>) -> JSONObject {
        var out = JSONObject()
        func copy(_ table: [(claim: String, field: String)]) {
            for (claim, field) in table {
                guard let value = user[field], !value.isNull else { continue }
                if claim == "preferred_username" { continue }
                if booleanClaims.contains(claim) {
                    if let b = value.boolValue { out.appendNew(claim, .bool(b)) }
                } else if claim == "updated_at" {
                    if let seconds = epochSeconds(value) { out.appendNew(claim, .int(seconds)) }
                } else if let s = value.stringValue, !s.isEmpty {
                    out.appendNew(claim, .string(s))
                }
            }
        }
        if scopes.contains("profile") {
            copy(profile)
            // GenAuth's username is the natural preferred_username; an explicit field wins.
            if let preferred = (user["preferredUsername"] ?? user["username"])?.stringValue, !preferred.isEmpty {
                out["preferred_username"] = .string(preferred)
            }
        }
        if scopes.contains("email") { copy(email) }
        if scopes.contains("phone") { copy(phone) }
        if scopes.contains("address"), let address = address(from: user["address"]) {
            out.appendNew("address", .object(address))
        }
        return out
    }

    /// §5.1.1: an object with string members; a plain string becomes `formatted`.
    static func address(from value: JSONValue?) -> JSONObject? {
        switch value {
        case .string(let s) where !s.isEmpty:
            return JSONObject([("formatted", .string(s))])
        case .object(let o):
            var out = JSONObject()
            for (claim, field) in addressMembers {
                if let s = (o[field] ?? o[claim])?.stringValue, !s.isEmpty { out.appendNew(claim, .string(s)) }
            }
            return out.isEmpty ? nil : out
        default:
            return nil
        }
    }

    /// `updated_at` is seconds since the epoch; GenAuth sends ISO 8601 text (or epoch seconds/millis).
    static func epochSeconds(_ value: JSONValue) -> Int64? {
        if let n = value.intValue { return n > 100_000_000_000 ? n / 1000 : n }
        guard let text = value.stringValue else { return nil }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970.rounded(.down)) }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64(d.timeIntervalSince1970.rounded(.down)) }
        return nil
    }
}
