import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// What the handlers learn about a request that its access line reports (client, grant, key).
final class RequestNote: Sendable {
    struct Fields: Sendable {
        var clientID: String?
        var grantType: String?
        var alg: String?
        var kid: String?
    }
    private let fields = Mutex(Fields())
    func set(_ update: (inout Fields) -> Void) { fields.withLock { update(&$0) } }
    var current: Fields { fields.withLock { $0 } }
}

/// The logger a request's code logs with (carrying its `request_id`) and the note for its access line.
/// Passed down from the request: nothing below keeps a logger of its own for the life of the process.
struct RequestScope: Sendable {
    var logger: Logger
    var note = RequestNote()
    /// For offline commands (mint): the process logger, no access line.
    static func offline(_ logger: Logger) -> RequestScope { RequestScope(logger: logger) }
}

/// The outermost middleware: takes the caller's `X-Request-Id` (1–128 of `[A-Za-z0-9._:-]`) or makes
/// one, returns it on every response (errors too), puts it on the request's logger, and writes one
/// access line per request.
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = TokenRequestContext
    static let header = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let id = request.headers[Self.header].flatMap { Self.isValid($0) ? $0 : nil } ?? Self.newID()
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        context.logger[metadataKey: "hb.request.id"] = nil
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))"])
            response = Response(status: .internalServerError, headers: .noStoreJSON,
                                body: .init(byteBuffer: ByteBuffer(bytes: TokenError.serverError("internal error").body)))
        }
        response.headers[Self.header] = id
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var meta: Logger.Metadata = ["method": "\(request.method.rawValue)", "path": "\(request.uri.path)",
                                     "status": "\(response.status.code)", "duration_ms": "\(String(format: "%.3f", ms))",
                                     "remote_ip": "\(context.remoteIP)"]
        let note = context.note.current
        if let v = note.clientID { meta["client_id"] = "\(v)" }
        if let v = note.grantType { meta["grant_type"] = "\(v)" }
        if let v = note.alg { meta["alg"] = "\(v)" }
        if let v = note.kid { meta["kid"] = "\(v)" }
        context.logger.info("access", metadata: meta)
        return response
    }

    static func isValid(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && id.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
        }
    }

    static func newID() -> String {
        var g = SystemRandomNumberGenerator()
        return String(g.next(), radix: 16) + String(g.next(), radix: 16)
    }
}
