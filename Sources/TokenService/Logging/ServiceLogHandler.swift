import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import Synchronization

/// Log lines for operators: `text` (human) or `json` (one object per line with `ts`, `level`, `msg`,
/// `request_id` and the metadata as fields), to standard error. A backstop beneath every call site:
/// metadata whose key names a credential is never written.
struct ServiceLogHandler: LogHandler {
    enum Format: String, Sendable, CaseIterable { case text, json }

    /// Metadata keys that would carry a secret, a token, an assertion, a proof or an Authorization value.
    static let redactedKeys: Set<String> = ["authorization", "password", "secret", "client_secret", "client_assertion", "assertion",
                                            "token", "access_token", "id_token", "refresh_token", "subject_token", "actor_token",
                                            "dpop", "proof", "private_key", "gateway_token", "cookie"]

    let label: String
    let format: Format
    let sink: LogSink
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, format: Format, level: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        var fields: [(key: String, value: String)] = []
        fields.reserveCapacity(all.count)
        for (key, value) in all where !Self.isRedacted(key) { fields.append((key, "\(value)")) }
        sink.write(line(level: event.level, message: "\(event.message)", fields: fields))
    }

    /// The access line of a request: its fields (fixed, none of them a credential; the request id among
    /// them) and this handler's metadata, formatted as `log` formats them, without a `Logger.Metadata` dictionary;
    /// written at the end of `loop`'s turn with the turn's other access lines.
    func logAccess(_ access: [(key: String, value: String)], on loop: any EventLoop) {
        guard logLevel <= .info else { return }
        var fields = access
        for (key, value) in metadata where !Self.isRedacted(key) && !access.contains(where: { $0.key == key }) {
            fields.append((key, "\(value)"))
        }
        sink.writeBatched(line(level: .info, message: "access", fields: fields), on: loop)
    }

    static func isRedacted(_ key: String) -> Bool {
        redactedKeys.contains(key) || (key.utf8.contains { (0x41...0x5A).contains($0) } && redactedKeys.contains(key.lowercased()))
    }

    /// One line as text (tests read it).
    func line(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let bytes = line(level: level, message: message, fields: metadata.map { ($0.key, "\($0.value)") })
        return String(decoding: bytes.dropLast(), as: UTF8.self)
    }

    /// One line, its newline included: the fields in key order (in `json`, `request_id` right after `msg`).
    func line(level: Logger.Level, message: String, fields given: [(key: String, value: String)]) -> [UInt8] {
        let inOrder = zip(given, given.dropFirst()).allSatisfy { $0.key < $1.key }
        let fields = inOrder ? given : given.sorted { $0.key < $1.key }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        switch format {
        case .json:
            out.append(UInt8(ascii: "{"))
            Self.appendQuoted("ts", to: &out); out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: "\"")); Self.appendTimestamp(to: &out); out.append(UInt8(ascii: "\""))
            for (k, v) in [("level", level.rawValue), ("msg", message), ("request_id", fields.first { $0.key == "request_id" }?.value ?? "")] {
                out.append(UInt8(ascii: ",")); Self.appendQuoted(k, to: &out); out.append(UInt8(ascii: ":")); Self.appendQuoted(v, to: &out)
            }
            for (k, v) in fields where k != "request_id" {
                out.append(UInt8(ascii: ",")); Self.appendQuoted(k, to: &out); out.append(UInt8(ascii: ":")); Self.appendQuoted(v, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .text:
            Self.appendTimestamp(to: &out); out.append(UInt8(ascii: " "))
            out.append(contentsOf: level.rawValue.utf8); out.append(UInt8(ascii: " "))
            out.append(contentsOf: label.utf8); out.append(UInt8(ascii: ":"))
            for (k, v) in fields {
                out.append(UInt8(ascii: " ")); Self.appendTextField(k, to: &out); out.append(UInt8(ascii: "="))
                Self.appendTextField(v, to: &out)
            }
            out.append(UInt8(ascii: " "))
            Self.appendEscapingControls(message, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// A text-format key or value: as is when it is plain, else quoted and escaped as JSON strings are,
    /// so that a value with a blank, `=`, a quote or a control character cannot start a field or a line.
    static func appendTextField(_ s: String, to out: inout [UInt8]) {
        var contiguous = s
        let plain = contiguous.withUTF8 { bytes in
            guard isPlain(bytes: bytes) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if !plain { appendQuoted(s, to: &out) }
    }

    /// Non-empty, without a blank, `"`, `=`, `\\` or a control character (checked on the UTF-8 bytes: C1
    /// controls are C2 80–C2 9F, the line and paragraph separators E2 80 A8 and E2 80 A9).
    private static func isPlain(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b <= 0x20 || b == 0x22 || b == 0x3D || b == 0x5C || b == 0x7F { return false }
            if b == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) { return false }
            if b == 0xE2, i + 2 < bytes.count, bytes[i + 1] == 0x80, bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9 { return false }
            i += 1
        }
        return true
    }

    /// The message with control characters (and line separators) escaped: one log line stays one line.
    static func appendEscapingControls(_ s: String, to out: inout [UInt8]) {
        guard s.unicodeScalars.contains(where: isControl) else { return out.append(contentsOf: s.utf8) }
        for u in s.unicodeScalars {
            if isControl(u) { appendUnicodeEscape(u, to: &out) } else { out.append(contentsOf: String(u).utf8) }
        }
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || u.value == 0x7F || (0x80...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }

    /// `\\uXXXX` for a scalar of the Basic Multilingual Plane.
    private static func appendUnicodeEscape(_ u: Unicode.Scalar, to out: inout [UInt8]) {
        let hex = String(u.value, radix: 16)
        out.append(contentsOf: "\\u".utf8)
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, 4 - hex.count)))
        out.append(contentsOf: hex.utf8)
    }

    /// A JSON string: quoted, with quotes, backslashes and control characters escaped.
    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for u in s.unicodeScalars {
            switch u {
            case "\"": out.append(contentsOf: "\\\"".utf8)
            case "\\": out.append(contentsOf: "\\\\".utf8)
            case "\n": out.append(contentsOf: "\\n".utf8)
            case "\r": out.append(contentsOf: "\\r".utf8)
            case "\t": out.append(contentsOf: "\\t".utf8)
            case _ where isControl(u): appendUnicodeEscape(u, to: &out)
            case _ where u.isASCII: out.append(UInt8(u.value))
            default: out.append(contentsOf: String(u).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// RFC 3339 UTC with milliseconds, without Foundation's formatter (it cost most of an access line).
    static func timestamp() -> String {
        var out: [UInt8] = []
        appendTimestamp(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendTimestamp(to out: inout [UInt8]) {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var tm = tm()
        var seconds = time_t(tv.tv_sec)
        gmtime_r(&seconds, &tm)
        // YYYY-MM-DDTHH:MM:SS.mmmZ, formatted in place and appended at once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { text in
            var at = 0
            func digits(_ value: Int, _ width: Int, then separator: UInt8) {
                var v = value
                for i in stride(from: at + width - 1, through: at, by: -1) {
                    text[i] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: v % 10)
                    v /= 10
                }
                text[at + width] = separator
                at += width + 1
            }
            digits(Int(tm.tm_year) + 1900, 4, then: UInt8(ascii: "-")); digits(Int(tm.tm_mon) + 1, 2, then: UInt8(ascii: "-"))
            digits(Int(tm.tm_mday), 2, then: UInt8(ascii: "T")); digits(Int(tm.tm_hour), 2, then: UInt8(ascii: ":"))
            digits(Int(tm.tm_min), 2, then: UInt8(ascii: ":")); digits(Int(tm.tm_sec), 2, then: UInt8(ascii: "."))
            digits(Int(tv.tv_usec) / 1000, 3, then: UInt8(ascii: "Z"))
            out.append(contentsOf: UnsafeBufferPointer(text))
        }
    }
}

/// Where log lines go: standard error (or another descriptor), or a buffer (tests read what a run logged).
final class LogSink: Sendable {
    /// The descriptor written to; none when capturing.
    private let fd: Int32?
    private let captured = Mutex<[String]>([])
    /// Access lines held until the end of their event loop's turn, and whether a flush is scheduled.
    private let held = Mutex<(bytes: [UInt8], flushScheduled: Bool)>(([], false))
    /// The most one `write(2)` of held lines carries: PIPE_BUF, so that on a pipe no other writer's
    /// line can land inside it.
    static let batchBytes = 4096

    private init(fd: Int32?) { self.fd = fd }
    static let standardError = LogSink(fd: 2)
    static func capturing() -> LogSink { LogSink(fd: nil) }
    /// Writes to `fd` (tests: a pipe), which stays the caller's to close.
    static func writing(to fd: Int32) -> LogSink { LogSink(fd: fd) }

    /// Writes a line that ends in its newline (after any held lines: the order of lines is kept).
    func write(_ line: [UInt8]) {
        guard let fd else { return captured.withLock { $0.append(String(decoding: line.dropLast(), as: UTF8.self)) } }
        held.withLock { h in
            Self.flush(&h.bytes, to: fd)
            Self.writeOut(line, to: fd)
        }
    }

    /// Writes a line at the end of `loop`'s current turn, together with the lines other requests of the
    /// turn wrote: one `write(2)` per turn under load instead of one per request.
    func writeBatched(_ line: [UInt8], on loop: any EventLoop) {
        guard let fd else { return write(line) }
        let schedule = held.withLock { h -> Bool in
            if h.bytes.count + line.count > Self.batchBytes { Self.flush(&h.bytes, to: fd) }
            if line.count > Self.batchBytes {
                Self.writeOut(line, to: fd)
                return false
            }
            h.bytes.append(contentsOf: line)
            defer { h.flushScheduled = true }
            return !h.flushScheduled
        }
        if schedule { loop.execute { self.flush() } }
    }

    /// Writes the held lines now.
    func flush() {
        guard let fd else { return }
        held.withLock { h in
            Self.flush(&h.bytes, to: fd)
            h.flushScheduled = false
        }
    }

    private static func flush(_ bytes: inout [UInt8], to fd: Int32) {
        guard !bytes.isEmpty else { return }
        writeOut(bytes, to: fd)
        bytes.removeAll(keepingCapacity: true)
    }

    /// One `write(2)` (a line, or whole lines held): lines never interleave with another writer's.
    private static func writeOut(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBufferPointer { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    var lines: [String] { captured.withLock { $0 } }
}
