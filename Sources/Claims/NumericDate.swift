public import JSONCore

/// RFC 7519 §2 NumericDate, read from a claim into a bounded range so that no arithmetic on it can trap:
/// a finite number within ±`bound` seconds of the epoch (about ±3,000 years), fractions dropped toward
/// minus infinity. Anything else — a string, an integer past the bound, a huge or non-finite double —
/// is refused with the same error as any other bad claim.
public enum NumericDate {
    public static let bound: Int64 = 100_000_000_000

    /// The claim's value in seconds, nil when the claim is absent; throws when it is there but is not
    /// a NumericDate within the bound.
    public static func read(_ name: String, in claims: JSONObject) throws(ClaimCheckError) -> Int64? {
        guard let value = claims[name] else { return nil }
        guard let seconds = seconds(value) else { throw ClaimCheckError("\(name) is not a NumericDate within ±\(bound) s") }
        return seconds
    }

    /// The value in seconds when it is a NumericDate within the bound.
    public static func seconds(_ value: JSONValue) -> Int64? {
        switch value {
        case .int(let i): return (-bound...bound).contains(i) ? i : nil
        case .double(let d):
            guard d.isFinite, d >= -Double(bound), d <= Double(bound) else { return nil }
            return Int64(d.rounded(.down))
        default: return nil
        }
    }
}

extension Int64 {
    /// `self + other`, clamped to the representable range instead of trapping.
    @inlinable public func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self - other`, clamped to the representable range instead of trapping.
    @inlinable public func saturatingSubtract(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other > 0 ? .min : .max
    }
}
