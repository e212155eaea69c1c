import Logging
import NIOCore

/// On the listening channel: at most `limit` connections open at once. At the limit the listener stops
/// accepting (the kernel's backlog holds new ones) until a connection closes.
final class ConnectionCap: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never
    typealias OutboundOut = Never

    private let limit: Int
    private var open = 0
    private var readHeld = false

    init(limit: Int) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        open += 1
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        child.closeFuture.hop(to: context.eventLoop).whenComplete { _ in
            let (handler, context) = bound.value
            handler.open -= 1
            if handler.readHeld, handler.open < handler.limit {
                handler.readHeld = false
                context.read()
            }
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard open < limit else {
            readHeld = true
            return
        }
        context.read()
    }
}
