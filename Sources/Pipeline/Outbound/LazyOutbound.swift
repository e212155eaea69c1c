import Synchronization

/// One outbound HTTP client for every worker, started on first use (most pipelines never call out).
final class LazyOutbound: Sendable {
    private let slot = Mutex<OutboundHTTP?>(nil)
    private let maxActive: Int, maxQueued: Int

    init(maxActive: Int, maxQueued: Int) { (self.maxActive, self.maxQueued) = (maxActive, maxQueued) }

    func client() -> OutboundHTTP {
        slot.withLock { slot in
            if let client = slot { return client }
            let client = OutboundHTTP(maxActive: maxActive, maxQueued: maxQueued)
            slot = client
            return client
        }
    }

    /// How full the client is (room when it was never started): workers refuse what it would refuse.
    var saturation: OutboundHTTP.Saturation { slot.withLock { $0?.saturation ?? .room } }
}
