package import Logging
import Synchronization

/// A warning that may come with every request (a notifier failing for every token, a function that
/// always runs long): the first is written at once, then at most one per `interval`, each with `count`,
/// how many times it happened since the line before.
package final class ThrottledWarning: Sendable {
    private struct State {
        var count = 0
        var lastWritten: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    private let message: Logger.Message
    private let interval: Duration

    package init(_ message: Logger.Message, interval: Duration = .seconds(1)) {
        self.message = message
        self.interval = interval
    }

    /// Cheap when the line is not written: `metadata` is made only for a line that is.
    package func note(logger: Logger, metadata: () -> Logger.Metadata) {
        let count: Int? = state.withLock { s in
            s.count += 1
            let now = ContinuousClock.now
            if let last = s.lastWritten, now - last < interval { return nil }
            defer { (s.count, s.lastWritten) = (0, now) }
            return s.count
        }
        guard let count else { return }
        var fields = metadata()
        fields["count"] = "\(count)"
        logger.warning(message, metadata: fields)
    }
}
