import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// How long a connection may take at each stage (`listen.header_timeout_seconds`,
/// `listen.idle_timeout_seconds`).
struct ConnectionTimeouts: Sendable {
    /// From accept, or from the first byte of a request, until its head is complete.
    var header: TimeAmount
    /// Between requests of a keep-alive connection; also the most a request body may take after its head.
    var idle: TimeAmount
}

/// One connection's deadline: a slow or idle client holds a socket for a bounded time, never forever.
/// - accept, or a request's first byte while no request is open: its head must be complete within `header`;
/// - a head read: its body must be complete within `idle`;
/// - a body complete: no deadline while the service works on it;
/// - every response sent: the next request must begin within `idle`.
/// Past a deadline the connection is closed. Lives on the connection's event loop; two handlers feed it:
/// `RequestBytesWatcher` (bytes, before the HTTP decoder) and `RequestPartsWatcher` (HTTP parts, after it).
final class ConnectionDeadlines {
    private let timeouts: ConnectionTimeouts
    private var timer: Scheduled<Void>?
    /// Requests whose head has been read and whose response is not complete (more than one when pipelined).
    private var open = 0
    private var headStarted = false
    private var close: (() -> Void)?

    init(timeouts: ConnectionTimeouts) { self.timeouts = timeouts }

    func connected(on loop: any EventLoop, close: @escaping () -> Void) {
        self.close = close
        headStarted = true
        arm(timeouts.header, on: loop)
    }

    func bytesArrived(on loop: any EventLoop) {
        guard open == 0, !headStarted else { return }
        headStarted = true
        arm(timeouts.header, on: loop)
    }

    func headRead(on loop: any EventLoop) {
        headStarted = false
        open += 1
        arm(timeouts.idle, on: loop)
    }

    func bodyRead() { disarm() }

    func responseSent(on loop: any EventLoop) {
        open = max(0, open - 1)
        if open == 0, !headStarted { arm(timeouts.idle, on: loop) }
    }

    func closed() {
        disarm()
        close = nil
    }

    private func arm(_ delay: TimeAmount, on loop: any EventLoop) {
        timer?.cancel()
        timer = loop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.close?()
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

/// First in a connection's pipeline: sees the raw bytes, so a request's first byte starts its head's
/// deadline; and owns the connection's `ConnectionDeadlines`.
final class RequestBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let deadlines: ConnectionDeadlines

    init(timeouts: ConnectionTimeouts) { deadlines = ConnectionDeadlines(timeouts: timeouts) }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        let channel = context.channel
        deadlines.connected(on: context.eventLoop) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadlines.bytesArrived(on: context.eventLoop)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlines.closed()
        context.fireChannelInactive()
    }
}

/// After the HTTP codec: a request head and body read, a response sent.
final class RequestPartsWatcher: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart
    private var deadlines: ConnectionDeadlines?

    func handlerAdded(context: ChannelHandlerContext) {
        deadlines = try? context.pipeline.syncOperations.handler(type: RequestBytesWatcher.self).deadlines
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: deadlines?.headRead(on: context.eventLoop)
        case .end: deadlines?.bodyRead()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { deadlines?.responseSent(on: context.eventLoop) }
        context.write(data, promise: promise)
    }
}
