import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TestSupport
import Testing
@testable import TokenService

/// The NIO listener on its own, with a responder of the test's: framing, pipelining, HEAD, HTTP/1.0
/// keep-alive, body limits, request ids, where a request runs, and draining on shutdown.
@Suite struct HTTPEdgeTests {
    /// Answers `method path body` as text: at once, or after waiting for `/slow` (300 ms) and `/where`,
    /// which says whether the work ran on an event loop before and after awaiting a call that does not suspend.
    struct Echo: EdgeResponder {
        /// Called when `/slow` starts waiting.
        var slowStarted: @Sendable () -> Void = {}

        func answer(_ request: EdgeRequest, scope: RequestScope) -> EdgeAnswer {
            switch request.path {
            case "/slow": return .later { [slowStarted] in slowStarted(); return await Self.respond(to: request) }
            case "/where": return .later { await Self.respond(to: request) }
            default: return .now(Self.text(request))
            }
        }

        static func text(_ request: EdgeRequest) -> EdgeResponse {
            let text = "\(request.method.rawValue) \(request.path) " + String(decoding: request.body.readableBytesView, as: UTF8.self)
            return EdgeResponse(headers: ["Content-Type": "text/plain"], body: Array(text.utf8))
        }

        static func respond(to request: EdgeRequest) async -> EdgeResponse {
            switch request.path {
            case "/slow":
                try? await Task.sleep(for: .milliseconds(300))
            case "/where":
                let before = MultiThreadedEventLoopGroup.currentEventLoop != nil
                let value = await Self.noSuspension()
                let after = MultiThreadedEventLoopGroup.currentEventLoop != nil
                return EdgeResponse(headers: ["Content-Type": "text/plain"], body: Array("\(before) \(after) \(value)".utf8))
            default: break
            }
            return text(request)
        }

        static func noSuspension() async -> Int { 42 }
    }

    static func withEdge(_ responder: Echo = Echo(), _ body: (Int, ServiceGroup) async throws -> Void) async throws {
        TestSupport.ignoreSIGPIPE()
        let (listening, announce) = AsyncStream<SocketAddress>.makeStream()
        var edge = HTTPEdge(settings: .init(host: "127.0.0.1", port: 0, timeouts: .init(header: .seconds(5), idle: .seconds(5)), maxConnections: 100),
                            responder: responder, metrics: ServiceMetrics(), logger: Logger(label: "edge-test"))
        edge.onListening = { announce.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [.init(service: edge)], logger: Logger(label: "edge-test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var addresses = listening.makeAsyncIterator()
            let port = try #require(await addresses.next()?.port)
            do { try await body(port, group) } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// The responses in `raw`, as (status line, headers, body) — bodies framed by Content-Length.
    static func responses(_ raw: String, head: Bool = false) -> [(status: String, headers: [String: String], body: String)] {
        var out: [(String, [String: String], String)] = []
        var rest = Substring(raw)
        while let end = rest.range(of: "\r\n\r\n") {
            let lines = rest[..<end.lowerBound].components(separatedBy: "\r\n")
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = head ? 0 : Int(headers["content-length"] ?? "0") ?? 0
            let bodyStart = end.upperBound
            let bodyEnd = rest.utf8.index(bodyStart, offsetBy: length, limitedBy: rest.endIndex) ?? rest.endIndex
            out.append((lines[0], headers, String(rest[bodyStart..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return out
    }

    @Test func pipelinedRequestsAreAnsweredInOrderOnOneConnection() async throws {
        try await Self.withEdge { port, _ in
            let c = try #require(RawConnection(port: port))
            c.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                   + "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            let answers = Self.responses(await c.readToEndOffPool())
            #expect(answers.map(\.body) == ["GET /a ", "POST /b hello", "POST /c abc"])
            #expect(answers.allSatisfy { $0.status == "HTTP/1.1 200 OK" })
            #expect(answers.last?.headers["connection"] == "close")
            #expect(await c.isClosedByPeerOffPool())
        }
    }

    @Test func headIsAnsweredWithItsLengthAndNoBody() async throws {
        try await Self.withEdge { port, _ in
            let c = try #require(RawConnection(port: port))
            c.send("HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let raw = await c.readToEndOffPool()
            let answer = try #require(Self.responses(raw, head: true).first)
            #expect(answer.headers["content-length"] == String("HEAD /h ".utf8.count))
            #expect(raw.hasSuffix("\r\n\r\n"), "no body after the head: \(raw)")
        }
    }

    @Test func http10KeepsTheConnectionOnlyWhenAsked() async throws {
        try await Self.withEdge { port, _ in
            let kept = try #require(RawConnection(port: port, timeoutSeconds: 10))
            kept.send("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            kept.send("GET /two HTTP/1.0\r\n\r\n")
            let answers = Self.responses(await kept.readToEndOffPool())
            #expect(answers.map(\.body) == ["GET /one ", "GET /two "])
            #expect(answers.first?.headers["connection"] == "keep-alive")
            #expect(answers.last?.headers["connection"] == "close")
        }
    }

    @Test(arguments: [
        ("declared", "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n"),
        ("chunked", "POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(repeating: "4000\r\n" + String(repeating: "x", count: 16384) + "\r\n", count: 5)),
        ("unknown path", "POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n"),
    ])
    func aBodyOverItsEndpointsLimitIs413AndTheConnectionCloses(_ name: String, _ request: String) async throws {
        try await Self.withEdge { port, _ in
            let c = try #require(RawConnection(port: port))
            c.send(request)
            let answer = try #require(Self.responses(await c.readToEndOffPool()).first, "\(name)")
            #expect(answer.status.hasPrefix("HTTP/1.1 413"), "\(name): \(answer.status)")
            #expect(answer.headers["connection"] == "close" && answer.body.contains("invalid_request"), "\(name)")
            #expect(await c.isClosedByPeerOffPool())
        }
    }

    @Test func requestIDsAreKeptWhenWellFormedAndMadeOtherwise() async throws {
        try await Self.withEdge { port, _ in
            for (sent, kept) in [("abc-123.x:y_z", true), ("bad id", false), (String(repeating: "a", count: 129), false)] {
                let c = try #require(RawConnection(port: port))
                c.send("GET /r HTTP/1.1\r\nHost: x\r\nX-Request-Id: \(sent)\r\nConnection: close\r\n\r\n")
                let id = try #require(Self.responses(await c.readToEndOffPool()).first?.headers["x-request-id"])
                #expect((id == sent) == kept && AccessLog.isValid(id), "\(sent) → \(id)")
            }
        }
    }

    @Test func aRequestThatNeverWaitsIsAnsweredOnItsEventLoop() async throws {
        try await Self.withEdge { port, _ in
            let c = try #require(RawConnection(port: port))
            c.send("GET /where HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(Self.responses(await c.readToEndOffPool()).first?.body == "true true 42", "no hop to the global executor before the first real wait")
        }
    }

    @Test func shutdownLetsOpenRequestsFinishAndStopsAccepting() async throws {
        let (started, signal) = AsyncStream<Void>.makeStream()
        try await Self.withEdge(Echo(slowStarted: { signal.yield() })) { port, group in
            let c = try #require(RawConnection(port: port))
            c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            var iterator = started.makeAsyncIterator()
            await iterator.next()
            await group.triggerGracefulShutdown()
            let answer = Self.responses(await c.readToEndOffPool()).first
            #expect(answer?.status == "HTTP/1.1 200 OK" && answer?.body == "GET /slow ", "the open request is answered")
            #expect(await c.isClosedByPeerOffPool(), "then its connection closes")
            var listening = true
            for _ in 0..<50 where listening {
                listening = RawConnection(port: port, timeoutSeconds: 1) != nil
                if listening { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!listening, "nothing listens after shutdown")
        }
    }
}
