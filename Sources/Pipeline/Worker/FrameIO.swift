#if canImport(Glibc)
import Glibc
#endif

/// Writing and reading `Wire` frames over the pipes between the service and its pipeline workers.
enum FrameIO {
    /// Writes what a non-blocking descriptor takes now: the count written (maybe 0), or nil when the
    /// pipe is closed.
    static func writeSome(_ fd: Int32, _ bytes: [UInt8]) -> Int? {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { buf in Glibc.write(fd, buf.baseAddress.map { $0 + offset }, buf.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN ? offset : nil
            }
            offset += n
        }
        return offset
    }

    /// Writes all of `bytes` (waiting for a non-blocking pipe to drain); false when the pipe is closed.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            guard let written = writeSome(fd, rest) else { return false }
            rest.removeFirst(written)
            if !rest.isEmpty {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, 100)
            }
        }
        return true
    }
}

/// Collects bytes from a pipe and hands out complete frames in order.
struct FrameReader {
    private var bytes: [UInt8] = []
    private var start = 0

    /// Reads what is available: bytes read, 0 at end of file, -1 when nothing was ready.
    /// The scratch space is uninitialised temporary memory: no zeroing per read.
    mutating func fill(_ fd: Int32) -> Int {
        if start > 0 {
            bytes.removeFirst(start)
            start = 0
        }
        return withUnsafeTemporaryAllocation(byteCount: 64 * 1024, alignment: 16) { scratch in
            while true {
                let n = Glibc.read(fd, scratch.baseAddress, scratch.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno == EAGAIN ? -1 : 0
                }
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[..<n]))
                return n
            }
        }
    }

    /// Takes the next complete frame, if there is one.
    mutating func next() -> [UInt8]? {
        guard let len = Wire.frameLength(bytes[start...]), bytes.count - start >= 4 + len else { return nil }
        let frame = Array(bytes[(start + 4)..<(start + 4 + len)])
        start += 4 + len
        return frame
    }
}
