import COpenSSL
import NIOCore
import NIOHTTP1
import NIOPosix

// The floors `make bench` measures the service against: a minimal SwiftNIO HTTP/1.1 server (NIO's server
// pipeline and one channel handler, no Swift concurrency per request, no logging, no limits). Every
// request is answered with the service's `/healthz` headers and body (`--body`, as the bench read it from the
// service; `{"status":"ok"}` without it), except `POST /oauth/token` with
// an HS256 client (`--hs256`): that one is the least a token endpoint must do for a client_credentials
// request — read the form, decode Basic, compare the secret in constant time, check the grant and scope,
// build the same claims, HMAC-SHA256 and base64url them, answer RFC 6749 JSON.
// Usage: NIOFloor PORT [--body JSON] [--hs256 KEY_FILE ISSUER CLIENT_ID CLIENT_SECRET SCOPE AUDIENCE]

/// The one HS256 client the floor's token route serves.
struct FloorClient: Sendable {
    let issuer: String
    let id: [UInt8]
    let secret: [UInt8]
    let scope: String
    let audience: String
    let mac: FloorMAC
}

/// HMAC-SHA256 with a keyed `EVP_MAC_CTX` template, duplicated per MAC (OpenSSL 3's cheapest way); the
/// template is never changed after `init`.
final class FloorMAC: @unchecked Sendable {
    private let template: OpaquePointer

    init?(key: [UInt8]) {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { return nil }
        // The context holds its own reference to the MAC.
        defer { EVP_MAC_free(mac) }
        guard let ctx = EVP_MAC_CTX_new(mac) else { return nil }
        var digest = Array("SHA256".utf8CString)
        let ok = digest.withUnsafeMutableBufferPointer { name in
            var params = [OSSL_PARAM_construct_utf8_string("digest", name.baseAddress, 0), OSSL_PARAM_construct_end()]
            return key.withUnsafeBufferPointer { EVP_MAC_init(ctx, $0.baseAddress, $0.count, &params) }
        }
        guard ok == 1 else { EVP_MAC_CTX_free(ctx); return nil }
        template = ctx
    }

    deinit { EVP_MAC_CTX_free(template) }

    func mac(_ data: [UInt8]) -> [UInt8]? {
        guard let ctx = EVP_MAC_CTX_dup(template) else { return nil }
        defer { EVP_MAC_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        guard data.withUnsafeBufferPointer({ EVP_MAC_update(ctx, $0.baseAddress, $0.count) }) == 1,
              EVP_MAC_final(ctx, &out, &length, out.count) == 1, length == 32 else { return nil }
        return out
    }
}

enum Wire {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func base64URL(_ bytes: [UInt8], into out: inout [UInt8]) {
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int(n >> UInt32(shift) & 63)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            if rest == 2 { out.append(alphabet[Int(n >> 6 & 63)]) }
        }
    }

    /// Standard padded base64, as in a Basic Authorization header.
    static func base64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var n: UInt32 = 0, bits = 0
        for c in text {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            n = n << 6 | v
            bits += 6
            if bits >= 8 { bits -= 8; out.append(UInt8(truncatingIfNeeded: n >> UInt32(bits))) }
        }
        return out
    }

    /// application/x-www-form-urlencoded value decoding.
    static func formDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(c)
            }
            i += 1
        }
        return out
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The token route: `(status, body)`.
func token(client: FloorClient, authorization: String?, body: ByteBuffer) -> (HTTPResponseStatus, [UInt8]) {
    func error(_ status: HTTPResponseStatus, _ code: String) -> (HTTPResponseStatus, [UInt8]) { (status, Array(#"{"error":"\#(code)"}"#.utf8)) }
    // Basic credentials: base64(form-encoded id ":" form-encoded secret).
    guard let authorization, authorization.utf8.count > 6, authorization.utf8.prefix(6).map({ $0 | 0x20 }) == Array("basic ".utf8),
          let pair = Wire.base64(Array(authorization.utf8).dropFirst(6)[...]), let colon = pair.firstIndex(of: UInt8(ascii: ":")),
          let id = Wire.formDecode(pair[..<colon]), let secret = Wire.formDecode(pair[(colon + 1)...]),
          id == client.id, secret.count == client.secret.count,
          CRYPTO_memcmp(secret, client.secret, secret.count) == 0
    else { return error(.unauthorized, "invalid_client") }
    // The form: grant_type and scope.
    var grant: [UInt8]?, scope: [UInt8]?
    for field in body.readableBytesView.split(separator: UInt8(ascii: "&")) {
        let parts = field.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let value = Wire.formDecode(ArraySlice(parts[1])) else { return error(.badRequest, "invalid_request") }
        switch Array(parts[0]) {
        case Array("grant_type".utf8): grant = value
        case Array("scope".utf8): scope = value
        default: break
        }
    }
    guard grant == Array("client_credentials".utf8) else { return error(.badRequest, "unsupported_grant_type") }
    guard scope == nil || scope == Array(client.scope.utf8) else { return error(.badRequest, "invalid_scope") }
    // The claims, in the service's order, and the signature.
    var jti = [UInt8](repeating: 0, count: 16)
    guard RAND_bytes(&jti, 16) == 1 else { return error(.internalServerError, "server_error") }
    var jtiText: [UInt8] = []
    Wire.base64URL(jti, into: &jtiText)
    let now = time(nil)
    let idText = String(decoding: client.id, as: UTF8.self)
    let claims = #"{"iss":"\#(client.issuer)","sub":"\#(idText)","aud":"\#(client.audience)","client_id":"\#(idText)","iat":\#(now),"#
        + #""exp":\#(now + 3600),"jti":"\#(String(decoding: jtiText, as: UTF8.self))","scope":"\#(client.scope)"}"#
    var jws: [UInt8] = []
    jws.reserveCapacity(512)
    Wire.base64URL(Array(#"{"alg":"HS256","kid":"hs","typ":"at+jwt"}"#.utf8), into: &jws)
    jws.append(UInt8(ascii: "."))
    Wire.base64URL(Array(claims.utf8), into: &jws)
    guard let signature = client.mac.mac(jws) else { return error(.internalServerError, "server_error") }
    jws.append(UInt8(ascii: "."))
    Wire.base64URL(signature, into: &jws)
    var out = Array(#"{"access_token":""#.utf8)
    out.append(contentsOf: jws)
    out.append(contentsOf: #"","token_type":"Bearer","expires_in":3600,"scope":"\#(client.scope)"}"#.utf8)
    return (.ok, out)
}

final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let client: FloorClient?
    private let healthBody: [UInt8]
    private var keepAlive = true
    private var version = HTTPVersion.http1_1
    private var isToken = false
    private var authorization: String?
    private var body: ByteBuffer?

    init(client: FloorClient?, healthBody: [UInt8]) {
        self.client = client
        self.healthBody = healthBody
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            version = head.version
            isToken = client != nil && head.method == .POST && head.uri == "/oauth/token"
            authorization = isToken ? head.headers.first(name: "Authorization") : nil
            body = nil
        case .body(var chunk):
            guard isToken else { return }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            var status = HTTPResponseStatus.ok
            let bytes: [UInt8]
            if isToken, let client {
                (status, bytes) = token(client: client, authorization: authorization, body: body ?? ByteBuffer())
            } else {
                bytes = healthBody
            }
            let body = context.channel.allocator.buffer(bytes: bytes)
            var headers: HTTPHeaders = ["Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache",
                                        "Content-Length": String(body.readableBytes)]
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if keepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}

var arguments = CommandLine.arguments
var healthBody = Array(#"{"status":"ok"}"#.utf8)
if arguments.count >= 4, arguments[2] == "--body" {
    healthBody = Array(arguments[3].utf8)
    arguments.removeSubrange(2...3)
}
guard arguments.count == 2 || (arguments.count == 9 && arguments[2] == "--hs256"), let port = Int(arguments[1]) else {
    print("usage: NIOFloor PORT [--body JSON] [--hs256 KEY_FILE ISSUER CLIENT_ID CLIENT_SECRET SCOPE AUDIENCE]")
    exit(2)
}
var client: FloorClient?
if arguments.count == 9 {
    guard let file = fopen(arguments[3], "r") else { print("cannot read \(arguments[3])"); exit(2) }
    var key: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while case let n = fread(&buffer, 1, buffer.count, file), n > 0 { key.append(contentsOf: buffer[..<n]) }
    fclose(file)
    while let last = key.last, last == 10 || last == 13 || last == 32 { key.removeLast() }
    guard let mac = FloorMAC(key: key) else { print("cannot key HMAC"); exit(1) }
    client = FloorClient(issuer: arguments[4], id: Array(arguments[5].utf8), secret: Array(arguments[6].utf8), scope: arguments[7],
                         audience: arguments[8], mac: mac)
}
let (served, body) = (client, healthBody)
let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(FloorHandler(client: served, healthBody: body))
        }
    }
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .bind(host: "127.0.0.1", port: port).wait()
try channel.closeFuture.wait()
