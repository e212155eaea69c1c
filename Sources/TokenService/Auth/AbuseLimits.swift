import Logging

/// Throttles brute force and enforces per-client token quotas, with counters in the shared state so
/// that replicas add up. Fixed windows of one minute, starting with a key's first count:
/// - failed client authentications per `client_id` (unknown ones too: no enumeration) and per source
///   address; at the limit, every request from that client_id or address gets 429 with `Retry-After`
///   until its window ends, even with the right secret;
/// - tokens per client (`rate_limit.tokens_per_minute`).
/// Counters fail open when the shared state cannot be reached (logged): availability over throttling;
/// one-time checks, which guard against replay, fail closed instead (see `TokenEndpoint`).
struct AbuseLimits: Sendable {
    static let window: Int64 = 60
    let shared: any SharedState
    let metrics: ServiceMetrics
    /// The request's logger.
    let logger: Logger

    private static func failedKey(client: String) -> String { "fail:client:" + client }
    private static func failedKey(address: String) -> String { "fail:addr:" + address }

    /// Before authentication: refuses a client_id or address that is over its failure limit.
    func admit(clientID: String?, address: String, limits: ServiceConfig.Limits, now: Int64) async throws(OAuthError) {
        do {
            if let clientID {
                let c = try await shared.peek(Self.failedKey(client: clientID), now: now)
                if c.count >= limits.failedAuthPerClient { throw throttled("client", retryAfter: c.resetIn) }
            }
            if !address.isEmpty {
                let a = try await shared.peek(Self.failedKey(address: address), now: now)
                if a.count >= limits.failedAuthPerAddress { throw throttled("address", retryAfter: a.resetIn) }
            }
        } catch let error as OAuthError {
            throw error
        } catch {
            logger.warning("abuse counters unavailable; not throttling", metadata: ["error": "\(error)"])
        }
    }

    /// After a failed client authentication.
    func recordFailure(clientID: String?, address: String, now: Int64) async {
        do {
            if let clientID { _ = try await shared.increment(Self.failedKey(client: clientID), window: Self.window, now: now) }
            if !address.isEmpty { _ = try await shared.increment(Self.failedKey(address: address), window: Self.window, now: now) }
        } catch {
            logger.warning("abuse counters unavailable; failure not counted", metadata: ["error": "\(error)"])
        }
    }

    /// One token for `client`, within its quota.
    func spendToken(client: RegisteredClient, now: Int64) async throws(OAuthError) {
        guard let quota = client.config.tokensPerMinute else { return }
        let count: WindowCount
        do { count = try await shared.increment("quota:" + client.id, window: Self.window, now: now) } catch {
            logger.warning("quota counters unavailable; not limiting", metadata: ["client_id": "\(client.id)", "error": "\(error)"])
            return
        }
        if count.count > quota { throw throttled("client_quota", retryAfter: count.resetIn) }
    }

    private func throttled(_ reason: String, retryAfter: Int64) -> OAuthError {
        metrics.throttled(reason: reason)
        switch reason {
        case "client_quota": return .tooManyRequests("this client's token quota for the minute is used up", retryAfter: retryAfter)
        default: return .tooManyRequests("too many failed client authentications; try again later", retryAfter: retryAfter)
        }
    }
}
