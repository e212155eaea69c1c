import Synchronization

/// Random bytes from OpenSSL's DRBG (`secureRandomBytes`), drawn `refillBytes` at a time and handed out in
/// order, each byte once: one `RAND_bytes` call per 256 token ids instead of one per id (a call costs its
/// locks, a fork check and the DRBG's set-up — more than the 16 bytes themselves). For values that are
/// unique and unguessable but not secret once used, such as a token's `jti`; keys come from `secureRandomBytes`.
/// The process must not fork without exec while a pool is in use (the child would repeat its bytes); the
/// service's pipeline workers are spawned with exec.
package final class RandomPool: Sendable {
    package static let refillBytes = 4096
    private let state = Mutex<(bytes: [UInt8], next: Int)>(([], 0))

    package init() {}

    /// `count` bytes no caller has had before; more than `refillBytes` come straight from the DRBG.
    package func bytes(_ count: Int) -> [UInt8] {
        guard count <= Self.refillBytes else { return secureRandomBytes(count) }
        return state.withLock { s in
            if s.bytes.count - s.next < count {
                s.bytes = secureRandomBytes(Self.refillBytes)
                s.next = 0
            }
            defer { s.next += count }
            return Array(s.bytes[s.next..<s.next + count])
        }
    }
}
