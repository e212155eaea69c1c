import OAuthWire
import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// One of the service's HTTP/1.1 listeners on SwiftNIO (a `Service` in the application's group): per
/// connection TLS (with `listen.tls`), the deadline watcher, NIO's decoder, encoder and pipelining handler,
/// and an `EdgeHandler` asking the responder. On graceful shutdown it stops accepting, closes idle connections and lets each open request
/// finish before its connection closes.
struct HTTPEdge<Responder: EdgeResponder>: Service {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var timeouts: ConnectionTimeouts
        var maxConnections: Int
        var trustedProxies = TrustedProxies.none
        var tls: ServerTLS?
        /// Names the listener in logs ("public", "admin").
        var name = "public"
    }

    let settings: Settings
    let responder: Responder
    let metrics: ServiceMetrics
    let logger: Logger
    var group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    /// Called with the bound address once the listener accepts connections.
    var onListening: @Sendable (SocketAddress) async -> Void = { _ in }

    func run() async throws {
        let quiesce = ServerQuiescingHelper(group: group)
        let (settings, responder, metrics, logger) = (self.settings, self.responder, self.metrics, self.logger)
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                        try channel.pipeline.syncOperations.addHandler(ConnectionCap(limit: settings.maxConnections))
                    }
                }
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let deadlines = ConnectionDeadlines(timeouts: settings.timeouts)
                        let pipeline = channel.pipeline.syncOperations
                        if let tls = settings.tls { try pipeline.addHandler(NIOSSLServerHandler(context: tls.context)) }
                        try pipeline.addHandler(RequestBytesWatcher(deadlines))
                        try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                        try pipeline.addHandler(EdgeHandler(responder: responder, deadlines: deadlines, proxies: settings.trustedProxies,
                                                            logger: logger, metrics: metrics))
                    }
                }
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .bind(host: settings.host, port: settings.port).get()
        } catch {
            throw ListenError(address: "\(settings.host):\(settings.port)", listener: settings.name, reason: "\(error)")
        }
        if let address = channel.localAddress { await onListening(address) }
        // Cancellation or graceful shutdown: either way, drain.
        try? await gracefulShutdown()
        let drained = group.next().makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: drained)
        try? await drained.futureResult.get()
    }
}

/// The listener could not be opened (the address is in use, or not this host's).
struct ListenError: Error, CustomStringConvertible {
    let address: String
    let listener: String
    let reason: String
    var description: String { "cannot listen on \(address) (the \(listener) listener): \(reason)" }
}
