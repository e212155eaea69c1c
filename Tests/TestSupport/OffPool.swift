import Foundation

/// Runs `body` on a thread of its own and waits for it without holding a thread. Whatever blocks — a
/// subprocess to start or end, a server to answer a ping, a socket to be read — must not run on one of
/// Swift concurrency's cooperative threads (two on a 2-core machine): every other test of the process
/// would stall behind it, and a live client that connected meanwhile would miss its server's deadlines.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

/// `offPool` for work that cannot fail.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
