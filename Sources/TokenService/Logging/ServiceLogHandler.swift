import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
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
        for key in all.keys where Self.redactedKeys.contains(key.lowercased()) { all[key] = nil }
        sink.write(line(level: event.level, message: "\(event.message)", metadata: all))
    }

    func line(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let ts = Self.timestamp()
        switch format {
        case .json:
            var fields: [(String, String)] = [("ts", ts), ("level", level.rawValue), ("msg", message)]
            fields.append(("request_id", metadata["request_id"].map { "\($0)" } ?? ""))
            for (k, v) in metadata.sorted(by: { $0.key < $1.key }) where k != "request_id" { fields.append((k, "\(v)")) }
            return "{" + fields.map { Self.quote($0.0) + ":" + Self.quote($0.1) }.joined(separator: ",") + "}"
        case .text:
            let meta = metadata.sorted(by: { $0.key < $1.key }).map { Self.textField($0.key) + "=" + Self.textField("\($0.value)") }
                .joined(separator: " ")
            return "\(ts) \(level.rawValue) \(label):" + (meta.isEmpty ? "" : " " + meta) + " " + Self.escapingControls(message)
        }
    }

    /// A text-format key or value: as is when it is plain, else quoted and escaped as JSON strings are,
    /// so that a value with a blank, `=`, a quote or a control character cannot start a field or a line.
    static func textField(_ s: String) -> String {
        let plain = !s.isEmpty && s.unicodeScalars.allSatisfy { u in u != " " && u != "\"" && u != "=" && u != "\\" && !isControl(u) }
        return plain ? s : quote(s)
    }

    /// The message with control characters (and line separators) escaped: one log line stays one line.
    static func escapingControls(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if isControl(u) { out += unicodeEscape(u) } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || u.value == 0x7F || (0x80...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
    }

    /// `\uXXXX` for a scalar of the Basic Multilingual Plane.
    private static func unicodeEscape(_ u: Unicode.Scalar) -> String {
        let hex = String(u.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(u): out += unicodeEscape(u)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// RFC 3339 UTC with milliseconds, without Foundation's formatter (it cost most of an access line).
    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var tm = tm()
        var seconds = time_t(tv.tv_sec)
        gmtime_r(&seconds, &tm)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var v = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(v / divisor % 10))
                v %= divisor
                divisor /= 10
            }
        }
        digits(Int(tm.tm_year) + 1900, 4); out.append(UInt8(ascii: "-")); digits(Int(tm.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(tm.tm_mday), 2); out.append(UInt8(ascii: "T")); digits(Int(tm.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(tm.tm_min), 2); out.append(UInt8(ascii: ":")); digits(Int(tm.tm_sec), 2); out.append(UInt8(ascii: "."))
        digits(Int(tv.tv_usec) / 1000, 3); out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}

/// Where log lines go: standard error, or a buffer (tests read what a run logged).
final class LogSink: Sendable {
    private let capturing: Bool
    private let captured = Mutex<[String]>([])
    private init(capturing: Bool) { self.capturing = capturing }
    static let standardError = LogSink(capturing: false)
    static func capturing() -> LogSink { LogSink(capturing: true) }

    func write(_ line: String) {
        if capturing { return captured.withLock { $0.append(line) } }
        var text = line + "\n"
        // One write(2) per line: lines of concurrent requests never interleave.
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    var lines: [String] { captured.withLock { $0 } }
}
