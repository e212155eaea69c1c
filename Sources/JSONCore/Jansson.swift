internal import CJansson

/// Why a JSON text was refused.
public struct JSONParseError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// JSON text ⇄ `JSONValue` through Jansson. This file is the only place that touches `json_t`.
public enum JSON {
    /// Parses a JSON text. Duplicate object keys are refused (RFC 8259 says they make a document
    /// unpredictable; RFC 7515 §5.2 and OIDC require rejecting them).
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let flags = ts_JSON_REJECT_DUPLICATES() | ts_JSON_DECODE_ANY() | ts_JSON_ALLOW_NUL()
        var error = json_error_t()
        let root: UnsafeMutablePointer<json_t>? = bytes.withContiguousStorageIfAvailable { buf in
            buf.withMemoryRebound(to: CChar.self) { json_loadb($0.baseAddress, buf.count, flags, &error) }
        } ?? Array(bytes).withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { json_loadb($0.baseAddress, buf.count, flags, &error) }
        }
        guard let root else {
            let text = withUnsafeBytes(of: error.text) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw JSONParseError(message: "\(text) at line \(error.line), column \(error.column)")
        }
        defer { ts_json_decref(root) }
        return value(of: root)
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Compact UTF-8 serialisation (no spaces, `/` not escaped, integers as integers).
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        guard let node = makeNode(value) else { return Array("null".utf8) }
        defer { ts_json_decref(node) }
        let flags = ts_JSON_COMPACT() | ts_JSON_ENCODE_ANY() | ts_JSON_PRESERVE_ORDER()
        // One pass into scratch space for the usual small document; a second only when it is larger.
        let scratchSize = 4096
        let small: [UInt8]? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: scratchSize) { scratch in
            let size = json_dumpb(node, scratch.baseAddress, scratchSize, flags)
            guard size > 0, size <= scratchSize, let base = scratch.baseAddress else { return nil }
            return [UInt8](UnsafeRawBufferPointer(start: base, count: size))
        }
        if let small { return small }
        let size = json_dumpb(node, nil, 0, flags)
        guard size > 0 else { return Array("null".utf8) }
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = buffer.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: size) { json_dumpb(node, $0, size, flags) }
            } ?? 0
        }
    }

    public static func serializeString(_ value: JSONValue) -> String {
        String(decoding: serialize(value), as: UTF8.self)
    }

    private static func value(of node: UnsafeMutablePointer<json_t>) -> JSONValue {
        switch json_type(rawValue: UInt32(ts_json_typeof(node))) {
        case JSON_OBJECT:
            var object = JSONObject()
            var iter = json_object_iter(node)
            while let it = iter {
                let keyPtr = json_object_iter_key(it)
                let keyLen = json_object_iter_key_len(it)
                let key = keyPtr.map {
                    String(decoding: UnsafeRawBufferPointer(start: $0, count: keyLen), as: UTF8.self)
                } ?? ""
                if let child = json_object_iter_value(it) { object.appendNew(key, value(of: child)) }
                iter = json_object_iter_next(node, it)
            }
            return .object(object)
        case JSON_ARRAY:
            let n = json_array_size(node)
            var array: [JSONValue] = []
            array.reserveCapacity(n)
            for i in 0..<n { if let child = json_array_get(node, i) { array.append(value(of: child)) } }
            return .array(array)
        case JSON_STRING:
            let len = json_string_length(node)
            guard let ptr = json_string_value(node) else { return .string("") }
            return .string(String(decoding: UnsafeRawBufferPointer(start: ptr, count: len), as: UTF8.self))
        case JSON_INTEGER:
            return .int(Int64(json_integer_value(node)))
        case JSON_REAL:
            return .double(json_real_value(node))
        case JSON_TRUE:
            return .bool(true)
        case JSON_FALSE:
            return .bool(false)
        default:
            return .null
        }
    }

    private static func makeNode(_ value: JSONValue) -> UnsafeMutablePointer<json_t>? {
        switch value {
        case .null: return ts_json_null()
        case .bool(let b): return b ? ts_json_true() : ts_json_false()
        case .int(let i): return json_integer(json_int_t(i))
        case .double(let d): return d.isFinite ? json_real(d) : ts_json_null()
        case .string(var s):
            return s.withUTF8 { buf in
                buf.withMemoryRebound(to: CChar.self) { json_stringn_nocheck($0.baseAddress, buf.count) }
            }
        case .array(let items):
            guard let array = json_array() else { return nil }
            for item in items {
                guard let child = makeNode(item) else { ts_json_decref(array); return nil }
                _ = ts_json_array_append_new(array, child)
            }
            return array
        case .object(let object):
            guard let node = json_object() else { return nil }
            for (key, item) in object.entries {
                guard let child = makeNode(item) else { ts_json_decref(node); return nil }
                var k = key
                _ = k.withUTF8 { buf in
                    buf.withMemoryRebound(to: CChar.self) { ts_json_object_set_new(node, $0.baseAddress, buf.count, child) }
                }
            }
            return node
        }
    }
}
