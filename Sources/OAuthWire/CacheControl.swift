import Foundation

/// The `Cache-Control` directives a key fetcher obeys (RFC 9111 §5.2.2).
public enum CacheControl {
    /// Seconds the response may be kept: `max-age`, or 0 for `no-store` / `no-cache` (the caller's
    /// minimum then applies); nil when the header says neither. Bounded to one year.
    public static func maxAge(_ value: String?) -> Int64? {
        guard let value else { return nil }
        for directive in value.split(separator: ",") {
            let parts = directive.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            let name = parts.first?.lowercased() ?? ""
            if name == "no-store" || name == "no-cache" { return 0 }
            if parts.count == 2, name == "max-age", let v = Int64(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))), v >= 0 {
                return min(v, 86_400 * 365)
            }
        }
        return nil
    }
}
