/// The one definition of what travels between the service and a pipeline worker, used by both sides.
///
/// Every frame is a 4-byte little-endian length, then the payload. A payload starts with a tag
/// byte and a decimal id (`T <id>`); what follows depends on the tag:
///
/// service → worker
/// - `L <id>\n<json>`: load a pipeline generation (`LoadRequest`).
/// - `R <id> <gen> <index>,<timeout ms>,<skip 0|1>[,1] ...\n<user json>\n<context json>`: run functions; a
///   trailing `,1` marks a detached (`async: true`) function: the run is answered before the first of them.
/// - `H <id> <call>\n<json>`: the outcome of outbound HTTP call `call` made by run `id`.
///
/// worker → service
/// - `D <id>\n<json>`: the answer to frame `id` (a load's `{"ok"…}` or a run's `{"results"…}`).
/// - `A <id>\n<json>`: run `id`'s functions before its detached ones are done (`{"results"…}`); the
///   detached ones go on, and their own results come later in a `D`.
/// - `C <id> <call> <function index> <function start ns>\n<json>`: run `id` asks for an outbound HTTP call.
/// - `X <id>`: frame `id` was cancelled before it began (the service had moved it elsewhere).
///
/// Ids are the frame's number in the worker's input, counted from 1; the worker may answer runs out
/// of order (a run that awaits the network parks while later ones go on).
package enum Wire {
    package enum Tag: UInt8 {
        case load = 0x4C  // L
        case run = 0x52  // R
        case httpResult = 0x48  // H
        case done = 0x44  // D
        case answered = 0x41  // A
        case httpCall = 0x43  // C
        case cancelled = 0x58  // X
    }

    /// A parsed payload: its tag, id, the numbers on its first line after the id, and the rest.
    package struct Message {
        package var tag: Tag
        package var id: Int64
        /// Words of the first line after the id (run: generation and function specs; call: numbers).
        package var words: [ArraySlice<UInt8>]
        /// What follows the first newline (empty when there is none).
        package var body: ArraySlice<UInt8>

        package init?(_ payload: ArraySlice<UInt8>) {
            guard let first = payload.first, let tag = Tag(rawValue: first) else { return nil }
            let lineEnd = payload.firstIndex(of: 0x0A) ?? payload.endIndex
            let line = payload[payload.index(after: payload.startIndex)..<lineEnd].split(separator: 0x20)
            guard let idWord = line.first, let id = Wire.integer(idWord) else { return nil }
            self.tag = tag
            self.id = id
            words = Array(line.dropFirst())
            body = lineEnd < payload.endIndex ? payload[payload.index(after: lineEnd)...] : payload[payload.endIndex...]
        }
    }

    // MARK: Framing

    /// Appends one frame whose payload is `T <id><tail>` (tail starts with a space or a newline, or is empty).
    static func append(_ tag: Tag, id: Int64, tail: some Collection<UInt8>, to out: inout [UInt8]) {
        let idText = String(id).utf8
        appendLength(2 + idText.count + tail.count, to: &out)
        out.append(tag.rawValue)
        out.append(0x20)
        out.append(contentsOf: idText)
        out.append(contentsOf: tail)
    }

    /// Appends a frame with a JSON body: `T <id>[ words]\n<body>`.
    static func append(_ tag: Tag, id: Int64, words: [String] = [], body: some Collection<UInt8>, to out: inout [UInt8]) {
        var tail: [UInt8] = []
        tail.reserveCapacity(body.count + 24)
        for w in words { tail.append(0x20); tail.append(contentsOf: w.utf8) }
        tail.append(0x0A)
        tail.append(contentsOf: body)
        append(tag, id: id, tail: tail, to: &out)
    }

    static func appendLength(_ length: Int, to out: inout [UInt8]) {
        let len = UInt32(length)
        out.append(UInt8(truncatingIfNeeded: len)); out.append(UInt8(truncatingIfNeeded: len >> 8))
        out.append(UInt8(truncatingIfNeeded: len >> 16)); out.append(UInt8(truncatingIfNeeded: len >> 24))
    }

    /// The length of the frame starting at `bytes[start]`, when its 4 length bytes are there.
    package static func frameLength(_ bytes: some Collection<UInt8>) -> Int? {
        guard bytes.count >= 4 else { return nil }
        var len = 0
        for (i, byte) in bytes.prefix(4).enumerated() { len |= Int(byte) << (8 * i) }
        return len
    }

    /// Frames above this are refused by both sides (a load of large sources fits with room to spare).
    static let maxFrameBytes = 64 * 1024 * 1024

    // MARK: Run headers

    /// The words of a run frame's first line after its id: `<gen> <index>,<timeout ms>,<skip>...`.
    package struct RunHeader: Equatable {
        struct Function: Equatable {
            var index: Int
            var timeoutMS: Int
            var skip: Bool
            /// Runs after the run was answered (`async: true`).
            var detached = false
        }
        var generation: Int
        var functions: [Function]

        init(generation: Int, functions: [Function]) {
            self.generation = generation
            self.functions = functions
        }

        /// ` <gen> i,t,s ...` (leading space), ready to follow the id.
        package func encodedWords() -> [UInt8] {
            Array(([""] + [String(generation)] + functions.map { "\($0.index),\($0.timeoutMS),\($0.skip ? 1 : 0)\($0.detached ? ",1" : "")" })
                .joined(separator: " ").utf8)
        }

        package init?(words: [ArraySlice<UInt8>]) {
            guard let genWord = words.first, let gen = Wire.integer(genWord) else { return nil }
            var functions: [Function] = []
            for word in words.dropFirst() {
                let f = word.split(separator: 0x2C).map { Wire.integer($0) }
                guard f.count == 3 || (f.count == 4 && f[3] == 1), let i = f[0], let t = f[1], let skip = f[2], t > 0, i >= 0 else { return nil }
                // Detached functions come last: the run is answered once, before the first of them.
                guard f.count == 4 || !(functions.last?.detached ?? false) else { return nil }
                functions.append(Function(index: Int(i), timeoutMS: Int(t), skip: skip != 0, detached: f.count == 4))
            }
            generation = Int(gen)
            self.functions = functions
        }
    }

    /// A run frame's tail after the id: the header words, then user and context JSON on their own lines.
    static func runTail(header: [UInt8], user: [UInt8], context: [UInt8]) -> [UInt8] {
        var tail = header
        tail.reserveCapacity(header.count + user.count + context.count + 2)
        tail.append(0x0A); tail.append(contentsOf: user)
        tail.append(0x0A); tail.append(contentsOf: context)
        return tail
    }

    /// Splits a run frame's body into user and context JSON.
    package static func runBody(_ body: ArraySlice<UInt8>) -> (user: ArraySlice<UInt8>, context: ArraySlice<UInt8>)? {
        guard let nl = body.firstIndex(of: 0x0A) else { return nil }
        return (body[..<nl], body[body.index(after: nl)...])
    }

    /// A non-negative decimal integer of at most 18 digits.
    package static func integer(_ word: some Collection<UInt8>) -> Int64? {
        guard !word.isEmpty, word.count <= 18 else { return nil }
        var n: Int64 = 0
        for c in word {
            guard c >= 0x30, c <= 0x39 else { return nil }
            n = n * 10 + Int64(c - 0x30)
        }
        return n
    }
}
