import Foundation
import JSONCore
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

    /// A request's access line, formatted as `log` formats its fields, without a `Logger.Metadata` dictionary
    /// or a list of fields when this handler has no metadata of its own; written at the end of `loop`'s turn
    /// with the turn's other access lines.
    func logAccess(_ access: AccessLine, on loop: any EventLoop) {
        guard logLevel <= .info else { return }
        guard metadata.isEmpty else {
            var fields: [(key: String, value: String)] = []
            access.forEachField { fields.append(($0, $1)) }
            for (key, value) in metadata where !Self.isRedacted(key) && !fields.contains(where: { $0.key == key }) {
                fields.append((key, "\(value)"))
            }
            return sink.writeBatched(line(level: .info, message: AccessLine.message, fields: fields), on: loop)
        }
        var line = LineWriter(format: format, label: label, level: .info, message: AccessLine.message, requestID: access.requestID)
        access.forEachField { line.field($0, $1) }
        sink.writeBatched(line.end(), on: loop)
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
        var line = LineWriter(format: format, label: label, level: level, message: message,
                              requestID: fields.first { $0.key == "request_id" }?.value)
        for (key, value) in fields { line.field(key, value) }
        return line.end()
    }

    /// One line in the making, in one byte array: the head (time and level; in `json` also `msg` and
    /// `request_id`), then each field as the caller gives them (in key order), then the end (in `text`,
    /// the message) and the newline.
    struct LineWriter {
        private var out: [UInt8] = []
        private let format: Format
        private let message: String

        init(format: Format, label: String, level: Logger.Level, message: String, requestID: String?) {
            self.format = format
            self.message = message
            out.reserveCapacity(256)
            switch format {
            case .json:
                out.append(UInt8(ascii: "{"))
                JSONText.appendKey("ts", to: &out)
                out.append(UInt8(ascii: "\"")); ServiceLogHandler.appendTimestamp(to: &out); out.append(UInt8(ascii: "\""))
                jsonField("level", level.rawValue)
                jsonField("msg", message)
                jsonField("request_id", requestID ?? "")
            case .text:
                ServiceLogHandler.appendTimestamp(to: &out); out.append(UInt8(ascii: " "))
                out.append(contentsOf: level.rawValue.utf8); out.append(UInt8(ascii: " "))
                out.append(contentsOf: label.utf8); out.append(UInt8(ascii: ":"))
            }
        }

        /// A field (in `json`, `request_id` is in the head already).
        mutating func field(_ key: String, _ value: String) {
            switch format {
            case .json:
                if key != "request_id" { jsonField(key, value) }
            case .text:
                out.append(UInt8(ascii: " ")); ServiceLogHandler.appendTextField(key, to: &out); out.append(UInt8(ascii: "="))
                ServiceLogHandler.appendTextField(value, to: &out)
            }
        }

        private mutating func jsonField(_ key: String, _ value: String) {
            out.append(UInt8(ascii: ",")); JSONText.appendKey(key, to: &out)
            JSONText.appendString(value, to: &out)
        }

        /// The line, its newline included.
        consuming func end() -> [UInt8] {
            switch format {
            case .json:
                out.append(UInt8(ascii: "}"))
            case .text:
                out.append(UInt8(ascii: " "))
                ServiceLogHandler.appendEscapingControls(message, to: &out)
            }
            out.append(UInt8(ascii: "\n"))
            return out
        }
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
        if !plain { JSONText.appendString(s, to: &out) }
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
        guard s.unicodeScalars.contains(where: JSONText.isControl) else { return out.append(contentsOf: s.utf8) }
        for u in s.unicodeScalars {
            if JSONText.isControl(u) { JSONText.appendUnicodeEscape(u, to: &out) } else { out.append(contentsOf: String(u).utf8) }
        }
    }

    /// RFC 3339 UTC with milliseconds, without Foundation's formatter (it cost most of an access line).
    static func timestamp() -> String {
        var out: [UInt8] = []
        appendTimestamp(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendTimestamp(to out: inout [UInt8]) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let (days, secondOfDay) = Int(now.tv_sec).quotientAndRemainder(dividingBy: 86_400)
        // Before 1970 the remainder is negative: the day before, counted from its start.
        let (day, second) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
        let date = civilDate(daysSince1970: day)
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
            digits(date.year, 4, then: UInt8(ascii: "-")); digits(date.month, 2, then: UInt8(ascii: "-"))
            digits(date.day, 2, then: UInt8(ascii: "T")); digits(second / 3600, 2, then: UInt8(ascii: ":"))
            digits(second / 60 % 60, 2, then: UInt8(ascii: ":")); digits(second % 60, 2, then: UInt8(ascii: "."))
            digits(now.tv_nsec / 1_000_000, 3, then: UInt8(ascii: "Z"))
            out.append(contentsOf: UnsafeBufferPointer(text))
        }
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01, by arithmetic (H. Hinnant's
    /// `civil_from_days`): `gmtime_r` takes glibc's time-zone lock, which both event loops would share.
    static func civilDate(daysSince1970: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSince1970 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
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
