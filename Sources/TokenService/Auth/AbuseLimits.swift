import Logging

/// Throttles brute force and enforces per-client token quotas, with counters in the shared state so
/// that replicas add up. Fixed windows of one minute, starting with a key's first count:
/// - failed client authentications per (`client_id`, source address) and per source address; at the
///   limit, that client_id from that address (or that address at all) gets 429 with `Retry-After` until
///   its window ends, even with the right secret. A stranger's failures never lock a client out from
///   another address;
/// - tokens per client (`rate_limit.tokens_per_minute`), on every endpoint that issues tokens.
/// Limits never fail open: when the shared state cannot be reached, this replica counts on its own
/// (`local`), and says so in the log.
struct AbuseLimits: Sendable {
    static let window: Int64 = 60
    let shared: any SharedState
    /// This replica's counters, used while `shared` cannot be reached.
    let local: InProcessState
    let metrics: ServiceMetrics
    /// The request's scope (its logger, built when a warning is written).
    let scope: RequestScope

    static func failedKey(client: String, address: String) -> String { SharedStateKey.make("fail:ca", client, address) }
    static func failedKey(address: String) -> String { SharedStateKey.make("fail:addr", address) }
    static func quotaKey(client: String) -> String { SharedStateKey.make("quota", client) }

    /// Before authentication: refuses a (client_id, address) pair or an address over its failure limit.
    func admit(clientID: String?, address: String, limits: ServiceConfig.Limits, now: Int64) async throws(TokenError) {
        if let clientID {
            try refuseFailures(await peek(Self.failedKey(client: clientID, address: address), now: now), limit: limits.failedAuthPerClient, "client")
        }
        try refuseFailures(await peek(Self.failedKey(address: address), now: now), limit: limits.failedAuthPerAddress, "address")
    }

    /// After a failed client authentication.
    func recordFailure(clientID: String?, address: String, now: Int64) async {
        if let clientID { _ = await increment(Self.failedKey(client: clientID, address: address), now: now) }
        _ = await increment(Self.failedKey(address: address), now: now)
    }

    /// One token for `client`, within its quota.
    func spendToken(client: RegisteredClient, now: Int64) async throws(TokenError) {
        guard let quota = client.config.tokensPerMinute else { return }
        try refuseOverQuota(await increment(Self.quotaKey(client: client.id), now: now), quota: quota)
    }

    // The same three on this process's memory as the shared state (`counters`), for a request answered
    // on the event loop: it cannot be unreachable, so there is no fallback to count on.

    func admitNow(clientID: String?, address: String, limits: ServiceConfig.Limits, now: Int64, counters: InProcessState) throws(TokenError) {
        if let clientID {
            try refuseFailures(counters.peekNow(Self.failedKey(client: clientID, address: address), now: now), limit: limits.failedAuthPerClient, "client")
        }
        try refuseFailures(counters.peekNow(Self.failedKey(address: address), now: now), limit: limits.failedAuthPerAddress, "address")
    }

    func recordFailureNow(clientID: String?, address: String, now: Int64, counters: InProcessState) {
        if let clientID { _ = counters.incrementNow(Self.failedKey(client: clientID, address: address), window: Self.window, now: now) }
        _ = counters.incrementNow(Self.failedKey(address: address), window: Self.window, now: now)
    }

    func spendTokenNow(client: RegisteredClient, now: Int64, counters: InProcessState) throws(TokenError) {
        guard let quota = client.config.tokensPerMinute else { return }
        try refuseOverQuota(counters.incrementNow(Self.quotaKey(client: client.id), window: Self.window, now: now), quota: quota)
    }

    private func refuseFailures(_ failures: WindowCount, limit: Int, _ reason: String) throws(TokenError) {
        if failures.count >= limit { throw throttled(reason, retryAfter: failures.resetIn) }
    }

    private func refuseOverQuota(_ spent: WindowCount, quota: Int) throws(TokenError) {
        if spent.count > quota { throw throttled("client_quota", retryAfter: spent.resetIn) }
    }

    private func peek(_ key: String, now: Int64) async -> WindowCount {
        do { return try await shared.peek(key, now: now) } catch {
            scope.logger.warning("shared abuse counters unavailable; this replica counts alone", metadata: ["error": "\(error)"])
            return (try? await local.peek(key, now: now)) ?? .zero
        }
    }

    private func increment(_ key: String, now: Int64) async -> WindowCount {
        do { return try await shared.increment(key, window: Self.window, now: now) } catch {
            scope.logger.warning("shared abuse counters unavailable; this replica counts alone", metadata: ["error": "\(error)"])
            return (try? await local.increment(key, window: Self.window, now: now)) ?? .zero
        }
    }

    private func throttled(_ reason: String, retryAfter: Int64) -> TokenError {
        metrics.throttled(reason: reason)
        switch reason {
        case "client_quota": return .tooManyRequests("this client's token quota for the minute is used up", retryAfter: retryAfter)
        default: return .tooManyRequests("too many failed client authentications; try again later", retryAfter: retryAfter)
        }
    }
}
