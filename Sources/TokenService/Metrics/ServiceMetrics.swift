import Prometheus
import Synchronization

/// Prometheus metrics of one service instance (never a global registry); one reference, shared by
/// everything that counts.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    /// Collectors by label values, so the hot path skips the registry's lookup.
    private let requestCollectors = CollectorCache<(Counter, DurationHistogram)>()
    private let pipelineCollectors = CollectorCache<(Counter, Counter?, DurationHistogram)>()
    private let tokenCollectors = CollectorCache<Counter>()
    private let configInfoGauge = Slot<Gauge>()
    private let workerGauges = CollectorCache<Gauge>()

    private final class Slot<Value: AnyObject & Sendable>: Sendable {
        private let value = Mutex<Value?>(nil)
        /// Puts `new` in the slot and returns what was there.
        func exchange(_ new: Value) -> Value? { value.withLock { current in defer { current = new }; return current } }
    }

    private final class CollectorCache<Collectors: Sendable>: Sendable {
        private let map = Mutex<[String: Collectors]>([:])
        func get(_ key: String, make: () -> Collectors) -> Collectors {
            map.withLock { map in
                if let c = map[key] { return c }
                let c = make()
                map[key] = c
                return c
            }
        }
    }
    private static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5),
    ]

    func request(endpoint: String, status: Int, duration: Duration) {
        let key = endpoint + "\u{0}" + String(status)
        let collectors = requestCollectors.get(key) {
            let labels = [("endpoint", endpoint), ("status", String(status))]
            return (registry.makeCounter(descriptor: .init(namespace: "tokenservice", metricName: "http_requests", unitName: "total",
                                                          helpText: "HTTP requests by endpoint and status"), labels: labels),
                    registry.makeDurationHistogram(
                        descriptor: .init(metricName: "tokenservice_http_request_duration", unitName: "seconds", helpText: "Request latency"),
                        labels: labels, buckets: Self.latencyBuckets))
        }
        collectors.0.increment()
        collectors.1.record(duration)
    }

    func tokenIssued(client: String, algorithm: String, kind: String) {
        tokenCollectors.get(client + "\u{0}" + algorithm + "\u{0}" + kind) {
            registry.makeCounter(descriptor: .init(namespace: "tokenservice", metricName: "tokens_issued", unitName: "total",
                                                   helpText: "Tokens issued by client, algorithm and type"),
                                 labels: [("client_id", client), ("alg", algorithm), ("type", kind)])
        }.increment()
    }

    func pipelineRun(trigger: String, function: String, outcome: String, duration: Duration) {
        let key = trigger + "\u{0}" + function + "\u{0}" + outcome
        let collectors = pipelineCollectors.get(key) {
            let labels = [("trigger", trigger), ("function", function)]
            return (registry.makeCounter(descriptor: .init(namespace: "tokenservice", metricName: "pipeline_runs", unitName: "total",
                                                          helpText: "Pipeline function runs by outcome"), labels: labels + [("outcome", outcome)]),
                    outcome == "ok" ? nil : registry.makeCounter(descriptor: .init(namespace: "tokenservice", metricName: "pipeline_failures", unitName: "total",
                                                                                helpText: "Pipeline function runs that did not succeed"), labels: labels),
                    registry.makeDurationHistogram(
                        descriptor: .init(metricName: "tokenservice_pipeline_duration", unitName: "seconds", helpText: "Pipeline function run time"),
                        labels: labels, buckets: Self.latencyBuckets))
        }
        collectors.0.increment()
        collectors.1?.increment()
        collectors.2.record(duration)
    }

    /// Requests refused with 429, by reason (`client`, `address`: failed-authentication limits;
    /// `client_quota`: a client's tokens per minute).
    func throttled(reason: String) {
        tokenCollectors.get("throttled\u{0}" + reason) {
            registry.makeCounter(descriptor: .init(namespace: "tokenservice", metricName: "throttled_requests", unitName: "total",
                                                   helpText: "Requests refused with 429 by reason"),
                                 labels: [("reason", reason)])
        }.increment()
    }

    /// `tokenservice_config_info{config_sha256, signing_kid} 1`: what this replica loaded (replaced on reload).
    func configLoaded(digest: String, signingKid: String) {
        let gauge = registry.makeGauge(descriptor: .init(namespace: "tokenservice", metricName: "config", unitName: "info",
                                                         helpText: "The configuration this replica serves"),
                                       labels: [("config_sha256", digest), ("signing_kid", signingKid)])
        gauge.set(Int64(1))
        if let old = configInfoGauge.exchange(gauge), old !== gauge { registry.unregisterGauge(old) }
    }

    /// The pipeline worker processes running (read when the metrics are asked for).
    func pipelineWorkers(core: Int, spare: Int) {
        for (role, count) in [("core", core), ("spare", spare)] {
            workerGauges.get(role) {
                registry.makeGauge(descriptor: .init(namespace: "tokenservice", metricName: "pipeline_workers",
                                                     helpText: "Pipeline worker processes running, by role"),
                                   labels: [("role", role)])
            }.set(Int64(count))
        }
    }

    func exposition() -> [UInt8] { registry.emitToBuffer() }
}
