import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// What the handlers learn about a request that its access line reports (client, grant, key).
final class RequestNote: Sendable {
    struct Fields: Sendable {
        var clientID: String?
        var grantType: String?
        var alg: String?
        var kid: String?
    }
    private let fields = Mutex(Fields())
    func set(_ update: (inout Fields) -> Void) { fields.withLock { update(&$0) } }
    var current: Fields { fields.withLock { $0 } }
}

/// The logger a request's code logs with (carrying its `request_id`) and the note for its access line.
/// Passed down from the request: nothing below keeps a logger of its own for the life of the process.
struct RequestScope: Sendable {
    /// The listener's logger, without the request's id.
    let base: Logger
    /// The request's id (`X-Request-Id`); none for offline commands.
    let requestID: String?
    var note = RequestNote()

    init(logger: Logger, requestID: String? = nil) {
        self.base = logger
        self.requestID = requestID
    }

    /// The request's logger: the listener's with `request_id` in its metadata. Built when something logs,
    /// so a request that writes only its access line builds none.
    var logger: Logger {
        guard let requestID else { return base }
        var logger = base
        logger[metadataKey: "request_id"] = .string(requestID)
        return logger
    }

    /// Whether lines at `level` are written.
    func logs(_ level: Logger.Level) -> Bool { base.logLevel <= level }

    /// For offline commands (mint): the process logger, no access line.
    static func offline(_ logger: Logger) -> RequestScope { RequestScope(logger: logger) }
}

/// Request ids and the one access line per request.
enum AccessLog {
    static let requestIDHeader = "X-Request-Id"

    /// The caller's `X-Request-Id` when it is 1–128 of `[A-Za-z0-9._:-]`, or `made()`.
    static func requestID(_ headers: HTTPHeaders, else made: () -> String) -> String {
        headers.first(name: requestIDHeader).flatMap { isValid($0) ? $0 : nil } ?? made()
    }

    static func isValid(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
        }
    }

    /// 64 random bits in hex: a connection's request ids are this prefix and a count, unique without a
    /// system call per request.
    static func newPrefix() -> String {
        var g = SystemRandomNumberGenerator()
        return hex(g.next(), digits: 16)
    }

    /// `n` in lowercase hexadecimal, zero-padded to `digits` digits (at most 16, all a `UInt64` has).
    static func hex(_ n: UInt64, digits: Int = 1) -> String {
        let count = max(min(digits, 16), (64 - n.leadingZeroBitCount + 3) / 4, 1)
        return String(unsafeUninitializedCapacity: count) { out in
            var v = n
            for i in stride(from: count - 1, through: 0, by: -1) {
                let d = UInt8(truncatingIfNeeded: v & 0xF)
                out[i] = d < 10 ? 0x30 + d : 0x57 + d
                v >>= 4
            }
            return count
        }
    }

    /// The request's access line: straight to the service's log handler (no `Logger.Metadata` built, no
    /// request logger; the line goes out at the end of `loop`'s turn), or through swift-log for another
    /// handler; the same line either way.
    static func write(_ scope: RequestScope, method: HTTPMethod, path: String, status: HTTPResponseStatus, elapsed: Duration, remoteIP: String,
                      loop: any EventLoop) {
        guard scope.logs(.info) else { return }
        let line = AccessLine(note: scope.note.current, method: method, path: path, status: status, elapsed: elapsed, remoteIP: remoteIP,
                              requestID: scope.requestID)
        if let handler = scope.base.handler as? ServiceLogHandler { return handler.logAccess(line, on: loop) }
        var metadata = Logger.Metadata()
        line.forEachField { metadata[$0] = .string($1) }
        scope.logger.info(Logger.Message(stringLiteral: AccessLine.message), metadata: metadata)
    }

    /// `elapsed` in milliseconds with three decimals.
    static func milliseconds(_ elapsed: Duration) -> String {
        let (seconds, attoseconds) = elapsed.components
        let scaled = seconds.multipliedReportingOverflow(by: 1_000_000)
        let micros = seconds < 0 ? 0 : scaled.overflow ? Int64.max : scaled.partialValue.addingReportingOverflow(attoseconds / 1_000_000_000_000).partialValue
        return String(unsafeUninitializedCapacity: 24) { text in
            // Right to left: three decimals, the point, the whole milliseconds (at least "0"); then to the front.
            var v = max(0, micros), start = text.count, digits = 0
            repeat {
                if digits == 3 { start -= 1; text[start] = UInt8(ascii: ".") }
                start -= 1
                text[start] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
                v /= 10
                digits += 1
            } while v > 0 || digits < 4
            let length = text.count - start
            for i in 0..<length { text[i] = text[start + i] }
            return length
        }
    }
}

/// What one request's access line says.
struct AccessLine {
    static let message = "access"

    let note: RequestNote.Fields
    let method: HTTPMethod
    let path: String
    let status: HTTPResponseStatus
    let elapsed: Duration
    let remoteIP: String
    let requestID: String?

    /// The fields, in key order: the order lines list them in.
    func forEachField(_ body: (String, String) -> Void) {
        if let v = note.alg { body("alg", v) }
        if let v = note.clientID { body("client_id", v) }
        body("duration_ms", AccessLog.milliseconds(elapsed))
        if let v = note.grantType { body("grant_type", v) }
        if let v = note.kid { body("kid", v) }
        body("method", method.rawValue)
        body("path", path)
        body("remote_ip", remoteIP)
        if let v = requestID { body("request_id", v) }
        body("status", String(status.code))
    }
}
