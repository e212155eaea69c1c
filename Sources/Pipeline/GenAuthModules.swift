/// What `require` gives a pipeline function: GenAuth's documented modules (its management SDK is the
/// global `authing`, whose calls reject here), each under the names GenAuth templates use. The worker's
/// bootstrap implements them; `prepare` refuses a function that requires anything else, before it runs.
public enum GenAuthModules {
    /// Module names `require` accepts.
    public static let names: Set<String> = ["axios", "lodash", "querystring", "./utils", "utils", "./utils.js"]
    /// Debian's `libjs-lodash`: lodash 4, loaded once per worker and frozen.
    public static let lodashPath = "/usr/share/javascript/lodash/lodash.min.js"

    /// Every `require(...)` in `source` that is not one of `names`, or that does not name its module with
    /// a string literal (such a module cannot be checked before the function runs). Comments and string,
    /// template and regular-expression literals are skipped, so a commented-out `require` is not one.
    public static func problems(in source: String) -> [String] {
        var problems: [String] = []
        for call in RequireScanner(source).calls() {
            switch call {
            case .literal(let name) where names.contains(name): continue
            case .literal(let name): problems.append("require('\(name)'): no such module (available: \(names.sorted().joined(separator: ", ")))")
            case .computed: problems.append("require needs the module's name as a string literal")
            }
        }
        return problems
    }
}

/// A small JavaScript scanner: finds `require(` calls outside comments and literals.
struct RequireScanner {
    enum Call: Equatable {
        case literal(String)
        case computed
    }

    private let bytes: [UInt8]
    init(_ source: String) { bytes = Array(source.utf8) }

    func calls() -> [Call] {
        var out: [Call] = []
        var i = 0
        /// The last significant byte before `i`: decides whether `/` starts a regular expression.
        var previous: UInt8 = 0
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "/") where next(i) == UInt8(ascii: "/"):
                while i < bytes.count, bytes[i] != 0x0A { i += 1 }
                continue
            case UInt8(ascii: "/") where next(i) == UInt8(ascii: "*"):
                i += 2
                while i + 1 < bytes.count, !(bytes[i] == UInt8(ascii: "*") && bytes[i + 1] == UInt8(ascii: "/")) { i += 1 }
                i += 2
                continue
            case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"):
                i = skipString(from: i)
                previous = c
                continue
            case UInt8(ascii: "/") where startsExpression(previous):
                i = skipRegExp(from: i)
                previous = c
                continue
            default:
                break
            }
            if isIdentifierStart(c), i == 0 || !isIdentifierPart(bytes[i - 1]) {
                var end = i
                while end < bytes.count, isIdentifierPart(bytes[end]) { end += 1 }
                if bytes[i..<end].elementsEqual("require".utf8), previous != UInt8(ascii: "."), let call = argument(after: end) { out.append(call) }
                previous = bytes[end - 1]
                i = end
                continue
            }
            if !isBlank(c) { previous = c }
            i += 1
        }
        return out
    }

    /// After `require`: `( 'name' )` is a literal; `(` anything else is computed; no `(` is not a call.
    private func argument(after start: Int) -> Call? {
        var i = skipBlanks(start)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "(") else { return nil }
        i = skipBlanks(i + 1)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "'") || bytes[i] == UInt8(ascii: "\"") else { return .computed }
        let end = skipString(from: i)
        let after = skipBlanks(end)
        guard end - 1 > i, after < bytes.count, bytes[after] == UInt8(ascii: ")") else { return .computed }
        let name = bytes[(i + 1)..<(end - 1)]
        guard !name.contains(UInt8(ascii: "\\")) else { return .computed }
        return .literal(String(decoding: name, as: UTF8.self))
    }

    private func next(_ i: Int) -> UInt8? { i + 1 < bytes.count ? bytes[i + 1] : nil }

    private func skipBlanks(_ start: Int) -> Int {
        var i = start
        while i < bytes.count, isBlank(bytes[i]) { i += 1 }
        return i
    }

    /// Past the closing quote (escapes honoured); a template's `${…}` is skipped with the template.
    private func skipString(from start: Int) -> Int {
        let quote = bytes[start]
        var i = start + 1
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
            if bytes[i] == quote { return i + 1 }
            if quote != UInt8(ascii: "`"), bytes[i] == 0x0A { return i }
            i += 1
        }
        return i
    }

    private func skipRegExp(from start: Int) -> Int {
        var i = start + 1
        var inClass = false
        while i < bytes.count, bytes[i] != 0x0A {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 1
            case UInt8(ascii: "["): inClass = true
            case UInt8(ascii: "]"): inClass = false
            case UInt8(ascii: "/") where !inClass: return i + 1
            default: break
            }
            i += 1
        }
        return i
    }

    /// A `/` after these starts a regular expression, not a division.
    private func startsExpression(_ previous: UInt8) -> Bool {
        previous == 0 || "(,=:[!&|?{};+-*%<>~^".utf8.contains(previous)
    }

    private func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
    private func isIdentifierStart(_ c: UInt8) -> Bool {
        (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "$") || c >= 0x80
    }
    private func isIdentifierPart(_ c: UInt8) -> Bool { isIdentifierStart(c) || (0x30...0x39).contains(c) }
}
