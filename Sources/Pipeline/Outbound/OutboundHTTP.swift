internal import COutboundHTTP
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Outbound HTTP for pipeline functions: libcurl's multi interface on one thread of its own, so a
/// function waiting on the network holds up no event loop and no worker, and TLS stays in the
/// system OpenSSL (certificates verified against the system store). At most `maxActive` transfers
/// run at once and `maxQueued` wait; a call past that fails at once (`ERR_OVERLOADED`) rather than
/// queueing without bound. Calls that may not queue (those of `async: true` functions: a notification
/// must never crowd out a call a token waits for) fail at once when every transfer slot is taken.
final class OutboundHTTP: Sendable {
    struct Request: Sendable {
        var method: String
        var url: OutboundURL
        var headers: [(String, String)]
        var body: [UInt8]?
        var timeoutMS: Int
        var maxResponseBytes: Int
    }

    enum Outcome: Sendable {
        case response(status: Int, statusText: String, headers: [(String, String)], body: [UInt8])
        /// An axios error code (`ECONNABORTED`, `ECONNREFUSED`, …) and message.
        case failure(code: String, message: String)
    }

    typealias Completion = @Sendable (Outcome) -> Void

    /// The C client's handle; immutable, and the C side locks what it shares between threads.
    private struct Handle: @unchecked Sendable { let pointer: OpaquePointer }
    private let handle: Handle?
    /// Completions by request tag. Boxed so the C side can reach it through an opaque pointer.
    private final class Pending: Sendable {
        let waiting = Mutex<(next: Int64, completions: [Int64: Completion])>((1, [:]))
    }
    private let pending = Pending()
    /// Requests started and not completed: past `capacity`, a call is refused before any curl handle is made.
    /// Boxed: the completions capture it, and must not capture the client itself (it owns them).
    private final class Counter: Sendable { let value = Atomic<Int>(0) }
    private let inFlight = Counter()
    private let capacity: Int, maxActive: Int

    init(maxActive: Int = 256, maxQueued: Int = 1024) {
        capacity = maxActive + maxQueued
        self.maxActive = maxActive
        let context = Unmanaged.passUnretained(pending).toOpaque()
        handle = ts_http_client_new({ context, result in
            guard let context, let result else { return }
            let pending = Unmanaged<Pending>.fromOpaque(context).takeUnretainedValue()
            let outcome = OutboundHTTP.outcome(result.pointee)
            let tag = result.pointee.tag
            ts_http_result_free(result)
            pending.waiting.withLock { $0.completions.removeValue(forKey: tag) }?(outcome)
        }, context, Int32(maxActive), Int32(maxQueued)).map(Handle.init)
    }

    deinit {
        if let handle { ts_http_client_free(handle.pointer) }
        let left = pending.waiting.withLock { state in defer { state.completions = [:] }; return state.completions.values }
        for completion in left { completion(.failure(code: "ERR_CANCELED", message: "the pipeline engine stopped")) }
    }

    /// How full the client is: which calls would be refused now.
    enum Saturation: Int64, Sendable {
        case room = 0
        /// Every transfer slot is taken: a call that may not queue is refused.
        case transfers = 1
        /// Every transfer slot and every waiting place is taken: every call is refused.
        case full = 2

        func refuses(queueing: Bool) -> Bool { self == .full || (self == .transfers && !queueing) }
    }

    var saturation: Saturation {
        let n = inFlight.value.load(ordering: .relaxed)
        return n >= capacity ? .full : n >= maxActive ? .transfers : .room
    }

    /// Starts the request; `completion` is called exactly once, on the client's thread or at once.
    /// Without `queueing`, the call is refused unless a transfer slot is free.
    func perform(_ request: Request, queueing: Bool = true, completion: @escaping Completion) {
        guard let handle else { return completion(.failure(code: "ERR_NETWORK", message: "outbound HTTP is not available")) }
        guard request.timeoutMS > 0 else { return completion(.failure(code: "ECONNABORTED", message: "timeout of 0ms exceeded")) }
        guard inFlight.value.wrappingAdd(1, ordering: .relaxed).newValue <= (queueing ? capacity : maxActive) else {
            inFlight.value.wrappingSubtract(1, ordering: .relaxed)
            return completion(Self.overloaded)
        }
        let completion: Completion = { [inFlight] outcome in
            inFlight.value.wrappingSubtract(1, ordering: .relaxed)
            completion(outcome)
        }
        let tag = pending.waiting.withLock { state in
            defer { state.next += 1 }
            state.completions[state.next] = completion
            return state.next
        }
        let lines = request.headers.map { "\($0.0): \($0.1)" }
        var cLines: [UnsafeMutablePointer<CChar>?] = lines.map { strdup($0) } + [nil]
        defer { cLines.forEach { free($0) } }
        let rc: Int32 = cLines.withUnsafeMutableBufferPointer { lines in
            lines.withMemoryRebound(to: UnsafePointer<CChar>?.self) { headers in
                guard let body = request.body else {
                    return ts_http_submit(handle.pointer, tag, request.method, request.url.normalized, headers.baseAddress, nil, 0,
                                          request.timeoutMS, request.maxResponseBytes)
                }
                // A body is always passed as a pointer (an empty one too: an empty POST still has a body).
                let bytes = body + [0]
                return bytes.withUnsafeBufferPointer { b in
                    b.withMemoryRebound(to: CChar.self) {
                        ts_http_submit(handle.pointer, tag, request.method, request.url.normalized, headers.baseAddress,
                                       $0.baseAddress, body.count, request.timeoutMS, request.maxResponseBytes)
                    }
                }
            }
        }
        guard rc != 0 else { return }
        pending.waiting.withLock { _ = $0.completions.removeValue(forKey: tag) }
        completion(rc == Int32(TS_HTTP_OVERLOADED) ? Self.overloaded : .failure(code: "ERR_NETWORK", message: "the request could not be started"))
    }

    static let overloaded = Outcome.failure(code: "ERR_OVERLOADED", message: "too many outbound requests are waiting; try again later")

    private static func outcome(_ r: ts_http_result) -> Outcome {
        let message = withUnsafeBytes(of: r.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch Int(r.error) {
        case Int(TS_HTTP_OK):
            let statusLine = r.status_line.map { String(cString: $0) } ?? ""
            let reason = statusLine.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init) ?? ""
            let headerText = r.headers.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: r.headers_len), as: UTF8.self) } ?? ""
            let body = r.body.map { Array(UnsafeRawBufferPointer(start: $0, count: r.body_len)) } ?? []
            return .response(status: Int(r.status), statusText: reason, headers: headers(headerText), body: body)
        case Int(TS_HTTP_TIMEOUT): return .failure(code: "ECONNABORTED", message: "timeout exceeded")
        case Int(TS_HTTP_REFUSED): return .failure(code: "ECONNREFUSED", message: "connect ECONNREFUSED: \(message)")
        case Int(TS_HTTP_RESET): return .failure(code: "ECONNRESET", message: "socket hang up: \(message)")
        case Int(TS_HTTP_TOO_LARGE): return .failure(code: "ERR_BAD_RESPONSE", message: "maxContentLength size exceeded")
        case Int(TS_HTTP_DNS): return .failure(code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND: \(message)")
        case Int(TS_HTTP_TLS): return .failure(code: "ERR_TLS", message: "TLS failed: \(message)")
        default: return .failure(code: "ERR_NETWORK", message: message.isEmpty ? "network error" : message)
        }
    }

    /// Header lines → lower-cased names; repeated headers joined with ", ".
    private static func headers(_ text: String) -> [(String, String)] {
        var out: [(String, String)] = []
        for line in text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            if let i = out.firstIndex(where: { $0.0 == name }) { out[i].1 += ", " + value } else { out.append((name, value)) }
        }
        return out
    }
}

private extension Substring {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        return String(String.UnicodeScalarView(scalars))
    }
}

/// A GET through the same libcurl layer, for the service's own fetches (a trusted issuer's JWKS and
/// discovery document): no pipeline policy applies, the caller names the URL.
package final class ServiceFetcher: Sendable {
    package enum Outcome: Sendable {
        case response(status: Int, headers: [(String, String)], body: [UInt8])
        case failure(String)
    }

    private let lazy: LazyOutbound

    package init(maxActive: Int = 16, maxQueued: Int = 64) { lazy = LazyOutbound(maxActive: maxActive, maxQueued: maxQueued) }

    /// GETs `url` (http or https; certificates checked against the system store) within `timeoutMS`,
    /// refusing a body over `maxBytes`.
    package func get(_ url: String, timeoutMS: Int, maxBytes: Int) async -> Outcome {
        guard let parsed = OutboundURL(url) else { return .failure("not an http(s) URL") }
        let request = OutboundHTTP.Request(method: "GET", url: parsed, headers: [("Accept", "application/json")], body: nil,
                                           timeoutMS: timeoutMS, maxResponseBytes: maxBytes)
        let client = lazy.client()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            client.perform(request) { outcome in
                switch outcome {
                case .response(let status, _, let headers, let body): continuation.resume(returning: .response(status: status, headers: headers, body: body))
                case .failure(let code, let message): continuation.resume(returning: .failure("\(code): \(message)"))
                }
            }
        }
    }
}
