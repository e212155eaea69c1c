import Foundation
import JSONCore

/// Walks a JSON object strictly: every key must be known, every type right. Problems are collected
/// with their JSON path rather than thrown one at a time, so `config check` can list them all.
struct ConfigReader {
    private(set) var problems: [String] = []
    let baseDirectory: String
    let environment: [String: String]

    mutating func problem(_ path: String, _ message: String) { problems.append("\(path): \(message)") }
    /// Kids of keys already reported as invalid: references to them are not reported again.
    var invalidKids: Set<String> = []

    /// Returns the object at `value`, reporting keys that are not in `known`.
    mutating func object(_ value: JSONValue?, _ path: String, known: Set<String>) -> JSONObject? {
        guard let value else { return nil }
        guard let o = value.objectValue else { problem(path, "must be an object, not \(value.typeName)"); return nil }
        for key in o.keys where !known.contains(key) {
            problem(path, "unknown key \"\(key)\"" + (Self.suggestion(for: key, among: known).map { " (did you mean \"\($0)\"?)" } ?? ""))
        }
        return o
    }

    /// The known key closest to a misspelt one, when it is at most two edits away.
    static func suggestion(for key: String, among known: Set<String>) -> String? {
        known.map { (distance(key, $0), $0) }.filter { $0.0 <= 2 }.min { ($0.0, $0.1) < ($1.0, $1.1) }?.1
    }

    /// Levenshtein distance (insertions, deletions, substitutions), on UTF-8 bytes.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where j <= b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    mutating func string(_ o: JSONObject, _ key: String, _ path: String, required: Bool = false) -> String? {
        guard let v = o[key] else {
            if required { problem(path, "\"\(key)\" is required") }
            return nil
        }
        guard let s = v.stringValue else { problem("\(path).\(key)", "must be a string"); return nil }
        if required && s.isEmpty { problem("\(path).\(key)", "must not be empty") }
        return s
    }

    mutating func bool(_ o: JSONObject, _ key: String, _ path: String) -> Bool? {
        guard let v = o[key] else { return nil }
        guard let b = v.boolValue else { problem("\(path).\(key)", "must be true or false"); return nil }
        return b
    }

    mutating func int(_ o: JSONObject, _ key: String, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let v = o[key] else { return nil }
        guard let i = v.intValue, range.contains(Int(i)) else {
            problem("\(path).\(key)", "must be an integer in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return Int(i)
    }

    mutating func strings(_ o: JSONObject, _ key: String, _ path: String) -> [String]? {
        guard let v = o[key] else { return nil }
        guard let a = v.arrayValue, a.allSatisfy({ $0.stringValue != nil }) else {
            problem("\(path).\(key)", "must be an array of strings")
            return nil
        }
        return a.compactMap(\.stringValue)
    }

    mutating func array(_ o: JSONObject, _ key: String, _ path: String) -> [JSONValue]? {
        guard let v = o[key] else { return nil }
        guard let a = v.arrayValue else { problem("\(path).\(key)", "must be an array"); return nil }
        return a
    }

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardizedFileURL.path
    }

    /// A secret written literally, as `{"file": PATH}` or as `{"env": NAME}`. Never echoed in problems.
    /// `privateFile`: a file must not be readable by group or others (as key files).
    mutating func secret(_ value: JSONValue?, _ path: String, privateFile: Bool = false) -> [UInt8]? {
        switch value {
        case .string(let s)?:
            return Array(s.utf8)
        case .object(let o)?:
            guard o.count == 1, let (kind, ref) = o.entries.first, let name = ref.stringValue, kind == "file" || kind == "env" else {
                problem(path, "a secret is a string, {\"file\": PATH} or {\"env\": NAME}")
                return nil
            }
            if kind == "env" {
                guard let v = environment[name], !v.isEmpty else { problem(path, "environment variable \(name) is not set"); return nil }
                return Array(v.utf8)
            }
            if privateFile {
                do { try KeyRing.checkPermissions(resolve(name)) } catch {
                    problem(path, "\(error)")
                    return nil
                }
            }
            guard let data = FileManager.default.contents(atPath: resolve(name)) else {
                problem(path, "cannot read secret file \(name)")
                return nil
            }
            var bytes = Array(data)
            while let last = bytes.last, last == 0x0A || last == 0x0D || last == 0x20 { bytes.removeLast() }
            return bytes
        case nil:
            return nil
        default:
            problem(path, "a secret is a string, {\"file\": PATH} or {\"env\": NAME}")
            return nil
        }
    }
}
