internal import COpenSSL

extension JOSEError {
    /// Drains OpenSSL's thread-local error queue into a typed error naming the failed call.
    static func openSSL(_ operation: String) -> JOSEError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            reasons.append(String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return .openSSL(operation: operation, reason: reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; "))
    }
}

/// Checks an OpenSSL return code (1 = success) and throws a typed error otherwise.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(JOSEError) {
    guard rc == 1 else { throw JOSEError.openSSL(operation()) }
}
