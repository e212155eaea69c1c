import Claims
import HTTPTypes

extension HTTPField.Name {
    static let pragma = HTTPField.Name("Pragma")!
    static let dpop = HTTPField.Name(DPoPProof.headerName)!
}

extension HTTPFields {
    /// Content-Type JSON with `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
    static let noStoreJSON: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store", .pragma: "no-cache"]
}
