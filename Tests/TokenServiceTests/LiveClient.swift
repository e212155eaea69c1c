import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
@testable import TokenService

/// A response as the tests read it (HTTPTypes' status and fields).
struct TestResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: ByteBuffer
}

/// An HTTP/1.1 client of the real listener: each request on a new connection.
protocol TestClientProtocol: Sendable {
    var port: Int { get }
}

extension TestClientProtocol {
    func execute<Return>(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil,
                         testCallback: (TestResponse) async throws -> Return) async throws -> Return {
        try await testCallback(try await LiveClient.send(port: port, uri: uri, method: method, headers: headers, body: body))
    }
}

struct LiveClient: TestClientProtocol {
    let port: Int

    static func send(port: Int, uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        let response = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: (HTTPResponseHead, ByteBuffer).self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: response))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        var fields = HTTPHeaders()
        for field in headers { fields.add(name: field.name.rawName, value: field.value) }
        if !fields.contains(name: "Host") { fields.add(name: "Host", value: "127.0.0.1:\(port)") }
        if let body, !fields.contains(name: "Content-Length") { fields.add(name: "Content-Length", value: String(body.readableBytes)) }
        fields.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method.rawValue), uri: uri, headers: fields)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        let (responseHead, responseBody) = try await response.futureResult.get()
        try? await channel.close().get()
        var responseFields = HTTPFields()
        for (name, value) in responseHead.headers {
            if let n = HTTPField.Name(name) { responseFields.append(HTTPField(name: n, value: value)) }
        }
        return TestResponse(status: HTTPResponse.Status(code: Int(responseHead.status.code), reasonPhrase: responseHead.status.reasonPhrase),
                            headers: responseFields, body: responseBody)
    }
}

/// Collects one response; fails when the connection closes before its end.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private var promise: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<(HTTPResponseHead, ByteBuffer)>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body(var b): body.writeBuffer(&b)
        case .end:
            if let head { promise?.succeed((head, body)) }
            promise = nil
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.fail(ChannelError.eof)
        promise = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
        context.close(promise: nil)
    }
}

/// The application from the composition root, listening on a free loopback port while a test runs.
struct TestApp: Sendable {
    let built: BuiltApplication
    let listening: AsyncStream<SocketAddress>
    /// The listener's own event loop, shut down after the test.
    let loops: MultiThreadedEventLoopGroup

    /// Runs the application's services, gives `body` a client of its listener, then shuts it down gracefully.
    func test<R: Sendable>(_ body: (any TestClientProtocol) async throws -> R) async throws -> R {
        let group = built.serviceGroup(signals: [])
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var addresses = listening.makeAsyncIterator()
            guard let port = await addresses.next()?.port else { throw ChannelError.inappropriateOperationForState }
            do {
                let result = try await body(LiveClient(port: port))
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                try? await loops.shutdownGracefully()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                try? await loops.shutdownGracefully()
                throw error
            }
        }
    }
}

extension HTTPField.Name {
    static let dpop = HTTPField.Name("DPoP")!
    static let pragma = HTTPField.Name("Pragma")!
}
