public import NIOCore
public import NIOPosix
public import NIOSSL
import Synchronization

/// A Redis client on one pipelined connection (commands answered in order), on SwiftNIO: nothing
/// blocks an event loop. Each command has a deadline; a connection that misses one is dropped (its
/// answers could no longer be matched). After a failed connect, commands fail at once for
/// `retryAfter` instead of each waiting for a connect timeout, then a new connection is tried.
public final class RedisClient: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// A Redis 6 ACL user; nil: the default user.
        public var username: String?
        public var password: [UInt8]?
        public var database: Int
        /// TLS (`rediss://`): the context verifying the server's certificate against `host`.
        public var tls: NIOSSLContext?
        /// TCP connect; then again for the TLS handshake, AUTH and SELECT.
        public var connectTimeout: TimeAmount = .seconds(1)
        public var commandTimeout: TimeAmount = .milliseconds(500)
        public var retryAfter: TimeAmount = .milliseconds(500)
        public init(host: String, port: Int, username: String? = nil, password: [UInt8]? = nil, database: Int = 0, tls: NIOSSLContext? = nil) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
        }
    }

    private struct State {
        var channel: (any Channel)?
        var connecting: EventLoopFuture<any Channel>?
        var failedUntil: NIODeadline = .uptimeNanoseconds(0)
        var lastError: String?
        var closed = false
    }

    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let state = Mutex(State())

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    /// Sends a command and waits for its answer. A Redis error answer throws `.server`.
    public func send(_ words: [String]) async throws(RESPError) -> RESPValue {
        let channel = try await connection()
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        let timeout = channel.eventLoop.scheduleTask(in: configuration.commandTimeout) {
            promise.fail(RESPError.unavailable("no answer within \(self.configuration.commandTimeout.nanoseconds / 1_000_000) ms"))
            channel.close(promise: nil)
        }
        channel.writeAndFlush(RedisHandler.Command(bytes: RESPValue.command(words), promise: promise), promise: nil)
        let value: RESPValue
        do { value = try await promise.futureResult.get() } catch {
            timeout.cancel()
            throw (error as? RESPError) ?? .unavailable("\(error)")
        }
        timeout.cancel()
        if case .error(let message) = value { throw .server(message) }
        return value
    }

    /// An error as one readable line of at most 240 characters (for logs and /healthz).
    static func oneLine(_ text: String) -> String {
        let flat = text.map { $0.isNewline ? " " : $0 }
        return flat.count > 240 ? String(flat.prefix(237)) + "..." : String(flat)
    }

    public func close() {
        let channel = state.withLock { s in
            s.closed = true
            defer { s.channel = nil }
            return s.channel
        }
        channel?.close(promise: nil)
    }

    private func connection() async throws(RESPError) -> any Channel {
        enum Next { case ready(any Channel), wait(EventLoopFuture<any Channel>), start(EventLoopPromise<any Channel>), fail(String) }
        let next: Next = state.withLock { s in
            if s.closed { return .fail("the client is closed") }
            if let c = s.channel, c.isActive { return .ready(c) }
            s.channel = nil
            if let f = s.connecting { return .wait(f) }
            if NIODeadline.now() < s.failedUntil { return .fail(s.lastError ?? "connect failed") }
            let promise = group.next().makePromise(of: (any Channel).self)
            s.connecting = promise.futureResult
            return .start(promise)
        }
        let future: EventLoopFuture<any Channel>
        switch next {
        case .ready(let c): return c
        case .fail(let why): throw .unavailable(why)
        case .wait(let f): future = f
        case .start(let promise):
            // Outside the lock: the connect's completion takes it, and may run at once.
            connect().cascade(to: promise)
            future = promise.futureResult
        }
        do { return try await future.get() } catch { throw (error as? RESPError) ?? .unavailable("\(error)") }
    }

    /// Connects, authenticates and selects the database before anyone else may use the channel.
    private func connect() -> EventLoopFuture<any Channel> {
        let config = configuration
        let loop = group.next()
        let connected = ClientBootstrap(group: loop)
            .connectTimeout(config.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = config.tls {
                        // The certificate must name the host (an IP address is checked as one).
                        let name = config.host.contains(":") || config.host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : config.host
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHandler(RedisHandler())
                }
            }
            .connect(host: config.host, port: config.port)
            .flatMap { channel -> EventLoopFuture<any Channel> in
                var setup: [[String]] = []
                if let password = config.password {
                    let secret = String(decoding: password, as: UTF8.self)
                    setup.append(config.username.map { ["AUTH", $0, secret] } ?? ["AUTH", secret])
                }
                if config.database != 0 { setup.append(["SELECT", String(config.database)]) }
                let answers = setup.map { words -> EventLoopFuture<RESPValue> in
                    let p = channel.eventLoop.makePromise(of: RESPValue.self)
                    channel.writeAndFlush(RedisHandler.Command(bytes: RESPValue.command(words), promise: p), promise: nil)
                    return p.futureResult
                }
                return EventLoopFuture.whenAllSucceed(answers, on: channel.eventLoop).flatMapThrowing { values in
                    for value in values {
                        guard case .error(let message) = value else { continue }
                        channel.close(promise: nil)
                        throw RESPError.unavailable("AUTH or SELECT was refused: \(message)")
                    }
                    return channel
                }
                // The TLS handshake happens here too: the connect's deadline, not a command's.
                .withTimeout(config.connectTimeout, on: channel)
            }
        connected.whenComplete { [self] result in
            state.withLock { s in
                s.connecting = nil
                switch result {
                case .success(let c):
                    if s.closed { c.close(promise: nil) } else { s.channel = c; s.lastError = nil }
                case .failure(let error):
                    let reason: String
                    if case .unavailable(let why)? = error as? RESPError { reason = why } else { reason = (error as? RESPError)?.description ?? "\(error)" }
                    s.lastError = Self.oneLine("\(config.host):\(config.port): \(reason)")
                    s.failedUntil = NIODeadline.now() + config.retryAfter
                }
            }
        }
        return connected
    }
}

private extension EventLoopFuture {
    func withTimeout(_ timeout: TimeAmount, on channel: any Channel) -> EventLoopFuture<Value> {
        let promise = eventLoop.makePromise(of: Value.self)
        let task = eventLoop.scheduleTask(in: timeout) {
            promise.fail(RESPError.unavailable("no answer to AUTH/SELECT"))
            channel.close(promise: nil)
        }
        whenComplete { task.cancel(); promise.completeWith($0) }
        return promise.futureResult
    }
}

/// Writes commands and answers them in order from the decoded replies; fails them all on close.
final class RedisHandler: ChannelDuplexHandler {
    struct Command {
        var bytes: ByteBuffer
        var promise: EventLoopPromise<RESPValue>
    }
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Command
    typealias OutboundOut = ByteBuffer

    private var buffer = ByteBuffer()
    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()
    /// Why the connection failed (a TLS handshake error, say), for the commands it fails.
    private var failure: String?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        waiting.append(command.promise)
        context.write(wrapOutboundOut(command.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while let value = try RESPValue.parse(&buffer) {
                guard let promise = waiting.popFirst() else { throw RESPError.protocolError("an answer nobody asked for") }
                promise.succeed(value)
            }
            buffer.discardReadBytes()
        } catch {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        while let p = waiting.popFirst() { p.fail(RESPError.unavailable(failure ?? "the connection closed")) }
        context.fireChannelInactive()
    }

    /// A TLS failure by its OpenSSL reason (`CERTIFICATE_VERIFY_FAILED`), anything else as it describes itself.
    static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        guard String(describing: type(of: error)).contains("SSL") else { return text }
        var reason = "handshake failed"
        if let marker = text.firstRange(of: "OPENSSL_internal:") {
            reason = String(text[marker.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        }
        return "TLS with the server failed: \(reason) (check shared_state.redis.ca_file and the server's certificate)"
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if failure == nil { failure = Self.reason(error) }
        context.close(promise: nil)
    }
}
