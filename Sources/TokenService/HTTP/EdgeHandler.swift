import Logging
import OAuthWire
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection's handler, after NIO's decoder and pipelining handler (which hands it one
/// request at a time, in order). It reads a request's body within its endpoint's limit, asks the
/// responder on the event loop — an answer it has at once (every request that waits for nothing, token
/// requests included) is written at once, with no task; work that may wait (a pipeline, Redis or an
/// outbound call) runs in `Task.immediate`, here until it first waits — and writes the answer with
/// `X-Request-Id`, `Content-Length` and keep-alive framing, then counts it and logs its access line.
final class EdgeHandler<Responder: EdgeResponder>: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: Responder
    private let deadlines: ConnectionDeadlines
    private let proxies: TrustedProxies
    private let logger: Logger
    private let metrics: ServiceMetrics
    /// The TCP peer's address.
    private var peerIP = ""
    /// Request ids made here: this connection's random prefix and a count.
    private let idPrefix = AccessLog.newPrefix()
    private var requestCount: UInt64 = 0

    /// The request being read: its head, its body so far and the most it may have. No head: parts are
    /// dropped (a request answered 413 before its end was read).
    private var head: HTTPRequestHead?
    private var path = ""
    private var body: ByteBuffer?
    private var limit = 0

    init(responder: Responder, deadlines: ConnectionDeadlines, proxies: TrustedProxies, logger: Logger, metrics: ServiceMetrics) {
        self.responder = responder
        self.deadlines = deadlines
        self.proxies = proxies
        self.logger = logger
        self.metrics = metrics
    }

    func handlerAdded(context: ChannelHandlerContext) {
        peerIP = context.channel.remoteAddress?.ipAddress ?? ""
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            deadlines.headRead()
            path = Self.path(h.uri)
            limit = Endpoint.byPath[path]?.bodyLimit ?? Endpoint.otherBodyLimit
            if let length = h.headers.first(name: "Content-Length").flatMap({ Int($0) }), length > limit {
                refuseBody(context, h)
                return
            }
            head = h
        case .body(var chunk):
            guard let h = head else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > limit { return refuseBody(context, h) }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            deadlines.bodyRead()
            guard let h = head else { return }
            let request = EdgeRequest(method: h.method, path: path, headers: h.headers,
                                      body: body ?? context.channel.allocator.buffer(capacity: 0),
                                      remoteIP: clientAddress(h.headers))
            head = nil
            body = nil
            dispatch(context, request, version: h.version, keepAlive: h.isKeepAlive)
        }
    }

    /// 413 before the body is read in full; the connection closes after the answer.
    private func refuseBody(_ context: ChannelHandlerContext, _ h: HTTPRequestHead) {
        head = nil
        body = nil
        let scope = requestScope(h.headers)
        let response = TokenError(.bodyTooLarge, "the request body is larger than \(limit) bytes").response
        write(context, response, scope: scope, method: h.method, path: path, remoteIP: clientAddress(h.headers),
              version: h.version, keepAlive: false, started: .now)
    }

    private func dispatch(_ context: ChannelHandlerContext, _ request: EdgeRequest, version: HTTPVersion, keepAlive: Bool) {
        let started = ContinuousClock.now
        let scope = requestScope(request.headers)
        let work: @Sendable () async -> EdgeResponse
        switch responder.answer(request, scope: scope) {
        case .now(let response):
            return write(context, response, scope: scope, method: request.method, path: request.path, remoteIP: request.remoteIP,
                         version: version, keepAlive: keepAlive, started: started)
        case .later(let w):
            work = w
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        // The task keeps what the answer's write needs, not the request (the work holds that).
        let (method, path, remoteIP) = (request.method, request.path, request.remoteIP)
        Task.immediate {
            let response = await work()
            if loop.inEventLoop {
                bound.value.handler.write(bound.value.context, response, scope: scope, method: method, path: path, remoteIP: remoteIP, version: version,
                                          keepAlive: keepAlive, started: started)
            } else {
                loop.execute {
                    bound.value.handler.write(bound.value.context, response, scope: scope, method: method, path: path, remoteIP: remoteIP, version: version,
                                              keepAlive: keepAlive, started: started)
                }
            }
        }
    }

    private func requestScope(_ headers: HTTPHeaders) -> RequestScope {
        RequestScope(logger: logger, requestID: AccessLog.requestID(headers) {
            requestCount &+= 1
            return idPrefix + "-" + AccessLog.hex(requestCount)
        })
    }

    private func write(_ context: ChannelHandlerContext, _ response: EdgeResponse, scope: RequestScope, method: HTTPMethod, path: String,
                       remoteIP: String, version: HTTPVersion, keepAlive: Bool, started: ContinuousClock.Instant) {
        // The responder sets none of these.
        var headers = response.headers
        if let id = scope.requestID { headers.add(name: AccessLog.requestIDHeader, value: id) }
        headers.add(name: "Content-Length", value: String(response.body.count))
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if version.major == 1, version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        // Counted and logged before the end is written: writing it may hand this handler the next pipelined request.
        deadlines.responseSent()
        let elapsed = ContinuousClock.now - started
        metrics.request(endpoint: Endpoint.byPath[path]?.path ?? "other", status: Int(response.status.code), duration: elapsed)
        AccessLog.write(scope, method: method, path: path, status: response.status, elapsed: elapsed, remoteIP: remoteIP,
                        loop: context.eventLoop)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: response.status, headers: headers))), promise: nil)
        if method != .HEAD, !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The client's address: the peer, or behind trusted proxies the address they report.
    private func clientAddress(_ headers: HTTPHeaders) -> String {
        proxies.clientAddress(peer: peerIP, forwarded: headers["Forwarded"], forwardedFor: headers["X-Forwarded-For"])
    }

    /// The request target's path: up to `?` or `#`.
    static func path(_ uri: String) -> String {
        guard let end = uri.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else { return uri }
        return String(uri[..<end])
    }
}
