public import NIOCore

/// A RESP2 value (the Redis serialization protocol).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    case bulkString([UInt8])
    case null
    case array([RESPValue])

    public var int: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulkString(let b): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    /// A command: an array of bulk strings.
    public static func command(_ words: [String]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("*\(words.count)\r\n")
        for w in words {
            let utf8 = Array(w.utf8)
            buffer.writeString("$\(utf8.count)\r\n")
            buffer.writeBytes(utf8)
            buffer.writeString("\r\n")
        }
        return buffer
    }

    /// Parses one value at the reader index; nil (nothing consumed) when it is not complete yet.
    public static func parse(_ buffer: inout ByteBuffer, depth: Int = 0) throws(RESPError) -> RESPValue? {
        var copy = buffer
        guard let value = try parseValue(&copy, depth: depth) else { return nil }
        buffer = copy
        return value
    }

    private static func line(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: 0x0D), view.index(after: cr) < view.endIndex, view[view.index(after: cr)] == 0x0A else { return nil }
        let text = buffer.readString(length: cr - view.startIndex)
        buffer.moveReaderIndex(forwardBy: 2)
        return text
    }

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws(RESPError) -> RESPValue? {
        guard depth < 8 else { throw RESPError.protocolError("nested too deep") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        guard let text = line(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"): return .simpleString(text)
        case UInt8(ascii: "-"): return .error(text)
        case UInt8(ascii: ":"):
            guard let n = Int64(text) else { throw RESPError.protocolError("bad integer") }
            return .integer(n)
        case UInt8(ascii: "$"):
            guard let n = Int(text), n >= -1, n <= 512 * 1024 * 1024 else { throw RESPError.protocolError("bad bulk length") }
            if n == -1 { return .null }
            guard buffer.readableBytes >= n + 2, let bytes = buffer.readBytes(length: n) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            guard let n = Int(text), n >= -1, n <= 1_000_000 else { throw RESPError.protocolError("bad array length") }
            if n == -1 { return .null }
            var items: [RESPValue] = []
            for _ in 0..<n {
                guard let item = try parseValue(&buffer, depth: depth + 1) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw RESPError.protocolError("unknown type byte")
        }
    }
}

public enum RESPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Redis cannot be reached, or did not answer in time.
    case unavailable(String)
    /// Redis answered with an error.
    case server(String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .unavailable(let s): return "redis unavailable: \(s)"
        case .server(let s): return "redis error: \(s)"
        case .protocolError(let s): return "redis protocol error: \(s)"
        }
    }
}
