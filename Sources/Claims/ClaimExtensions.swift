public import JSONCore

/// What a claim hook (a pipeline) asked for: claims to add and claims to remove, in order.
/// Applying it can never touch a registered claim; every refusal is reported back.
public struct ClaimExtensions: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case add(String, JSONValue)
        case remove(String)
    }
    public var operations: [Operation]
    /// What one token's hooks may add, as serialised JSON (the pipeline contract's bound).
    public static let maxBytes = 64 * 1024
    public init(_ operations: [Operation] = []) { self.operations = operations }
    public var isEmpty: Bool { operations.isEmpty }

    /// Applies the operations to `claims`; returns the names that were refused (`protected`: the
    /// registered claims, unless the caller protects others).
    @discardableResult
    public func apply(to claims: inout JSONObject, protected: Set<String> = RegisteredClaims.names) -> [String] {
        var refused: [String] = []
        for op in operations {
            switch op {
            case .add(let name, let value):
                if protected.contains(name) { refused.append(name); continue }
                claims[name] = value
            case .remove(let name):
                if protected.contains(name) { refused.append(name); continue }
                claims[name] = nil
            }
        }
        return refused
    }
}
