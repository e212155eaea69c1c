import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a loopback port, for what an HTTP client library will not send: a body
/// shorter than its Content-Length, a header trickled byte by byte, a socket left idle.
public final class RawConnection: Sendable {
    public let fd: Int32

    /// Connects to 127.0.0.1:`port`; nil when the connection is refused or times out.
    public init?(port: Int, timeoutSeconds: Int = 5) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { close(fd); return nil }
    }

    /// Sends all of `text`; false when the peer has gone.
    @discardableResult public func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// No more bytes from this side (the server sees end of input).
    public func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    /// Everything the peer sends until it closes, or until the receive timeout.
    public func readToEnd() -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `readToEnd` on a thread of its own (`offPool`).
    public func readToEndOffPool() async -> String { await offPool { self.readToEnd() } }

    /// `isClosedByPeer` on a thread of its own (`offPool`).
    public func isClosedByPeerOffPool() async -> Bool { await offPool { self.isClosedByPeer() } }

    /// True when the peer closes the connection (end of file or a reset, after whatever it sends)
    /// within the receive timeout; false when it is still open then.
    public func isClosedByPeer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { continue }
            return n == 0 || errno == ECONNRESET
        }
    }

    deinit { close(fd) }
}
