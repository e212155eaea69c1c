import NIOCore

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
/// Past a deadline the connection is closed. Lives on the connection's event loop; fed by
/// `RequestBytesWatcher` (bytes, before the HTTP decoder) and the edge handler (heads, bodies, responses).
/// Moving the deadline only stores it: one timer per connection wakes at the earliest deadline it may
/// have and re-arms itself while the deadline has moved on, so a request costs no timer operations.
final class ConnectionDeadlines {
    private let timeouts: ConnectionTimeouts
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerFires = NIODeadline.distantFuture
    /// Requests whose head has been read and whose response is not complete (more than one when pipelined).
    private var open = 0
    private var headStarted = false
    private var close: (() -> Void)?
    private var loop: (any EventLoop)?

    init(timeouts: ConnectionTimeouts) { self.timeouts = timeouts }

    func connected(on loop: any EventLoop, close: @escaping () -> Void) {
        self.loop = loop
        self.close = close
        headStarted = true
        set(timeouts.header)
    }

    func bytesArrived() {
        guard open == 0, !headStarted else { return }
        headStarted = true
        set(timeouts.header)
    }

    func headRead() {
        headStarted = false
        open += 1
        set(timeouts.idle)
    }

    func bodyRead() { deadline = nil }

    func responseSent() {
        open = max(0, open - 1)
        if open == 0, !headStarted { set(timeouts.idle) }
    }

    func closed() {
        timer?.cancel()
        timer = nil
        deadline = nil
        close = nil
        loop = nil
    }

    private func set(_ delay: TimeAmount) {
        let at = NIODeadline.now() + delay
        deadline = at
        // A timer already armed at or before the new deadline re-arms itself when it fires.
        if timer == nil || timerFires > at { arm(at) }
    }

    private func arm(_ at: NIODeadline) {
        guard let loop else { return }
        timer?.cancel()
        timerFires = at
        timer = loop.assumeIsolated().scheduleTask(deadline: at) { [weak self] in self?.fired() }
    }

    private func fired() {
        timer = nil
        guard let deadline else { return }
        if deadline <= NIODeadline.now() { close?() } else { arm(deadline) }
    }
}

/// First in a connection's pipeline: sees the raw bytes, so a request's first byte starts its head's
/// deadline; and starts and stops the connection's `ConnectionDeadlines`.
final class RequestBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let deadlines: ConnectionDeadlines

    init(_ deadlines: ConnectionDeadlines) { self.deadlines = deadlines }

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
        deadlines.bytesArrived()
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlines.closed()
        context.fireChannelInactive()
    }
}
