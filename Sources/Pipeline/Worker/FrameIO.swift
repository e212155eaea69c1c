#if canImport(Glibc)
import Glibc
#endif

/// Length-prefixed frames (4-byte little-endian length, then the payload) over pipes between the
/// service and its pipeline workers.
enum FrameIO {
    /// Writes a whole frame; false when the pipe is closed.
    static func write(_ fd: Int32, _ payload: [UInt8]) -> Bool {
        var frame = [UInt8](unsafeUninitializedCapacity: payload.count + 4) { buf, n in
            let len = UInt32(payload.count)
            buf[0] = UInt8(truncatingIfNeeded: len); buf[1] = UInt8(truncatingIfNeeded: len >> 8)
            buf[2] = UInt8(truncatingIfNeeded: len >> 16); buf[3] = UInt8(truncatingIfNeeded: len >> 24)
            n = 4
        }
        frame.append(contentsOf: payload)
        var offset = 0
        while offset < frame.count {
            let n = frame.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    /// Blocking read of one frame (worker side); nil at end of input.
    static func readBlocking(_ fd: Int32, buffer: inout [UInt8]) -> [UInt8]? {
        while true {
            if let frame = extract(&buffer) { return frame }
            guard fill(fd, &buffer) > 0 else { return nil }
        }
    }

    /// Reads what is available into `buffer`: bytes read, 0 at end of file, -1 when nothing was ready.
    /// The scratch space is uninitialised temporary memory: no zeroing per read.
    @discardableResult
    static func fill(_ fd: Int32, _ buffer: inout [UInt8]) -> Int {
        withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 16) { scratch in
            while true {
                let n = Glibc.read(fd, scratch.baseAddress, scratch.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno == EAGAIN ? -1 : 0
                }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
                return n
            }
        }
    }

    /// Takes one complete frame off the front of `buffer`, if there is one.
    static func extract(_ buffer: inout [UInt8]) -> [UInt8]? {
        guard buffer.count >= 4 else { return nil }
        let len = Int(buffer[0]) | Int(buffer[1]) << 8 | Int(buffer[2]) << 16 | Int(buffer[3]) << 24
        guard buffer.count >= 4 + len else { return nil }
        let frame = Array(buffer[4..<(4 + len)])
        buffer.removeFirst(4 + len)
        return frame
    }
}
