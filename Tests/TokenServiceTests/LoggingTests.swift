import Foundation
import JOSE
import JSONCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import TestSupport
@testable import TokenService

/// The real binary with `--log-format json`: one object per line with ts, level, msg, request_id; one
/// access line per request; X-Request-Id honoured or made, and returned; and nothing secret in the log.
@Suite(.serialized) struct LoggingTests {
    @Test func jsonLogsCarryRequestIDsAndNoSecret() async throws {
        let port = unusedLoopbackPort()
        let base = "http://127.0.0.1:\(port)"
        let pipeline = """
            function pipe(user, context, callback) {
              log('user', user ? user.email : 'm2m', 'phone', user ? user.phone : '-');
              callback(null, user, context);
            }
            """
        let f = try Fixture(issuer: base, pipelines: ["pre_id_token": [(name: "logger", source: pipeline, extra: [:])]]) { config in
            config["listen"] = ["host": "127.0.0.1", "port": .int(Int64(port))]
        }
        defer { f.cleanUp() }
        let logFile = f.dir.appendingPathComponent("service.log")
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let log = try FileHandle(forWritingTo: logFile)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: EndToEndTests.binary)
        p.arguments = ["serve", "--config", f.configPath, "--log-format", "json", "--log-level", "debug"]
        p.standardOutput = log
        p.standardError = log
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        try await EndToEndTests.waitUntilUp(base + "/healthz")

        func curl(_ args: [String]) async throws -> String { try await EndToEndTests.run("curl", ["-s", "-i", "--max-time", "10"] + args).output }
        let now = Int64(Date().timeIntervalSince1970)
        let assertion = try JWSSigner(key: f.batchKey, typ: "JWT").sign(claims: ["iss": "batch", "sub": "batch", "aud": .string(base + "/oauth/token"),
                                                                                   "exp": .int(now + 60), "jti": "log-jti-1"])
        // Every endpoint, and the errors a client controls.
        let withID = try await curl(["-H", "X-Request-Id: gateway-req.42:a", "-u", "billing:\(f.billingSecret)", "-d", "grant_type=client_credentials",
                               base + "/oauth/token"])
        #expect(withID.lowercased().contains("x-request-id: gateway-req.42:a"))
        let accessToken = try #require(withID.split(whereSeparator: \.isNewline).last.flatMap { try? JSON.parse(Array($0.utf8)).objectValue?["access_token"]?.stringValue },
                                       "\(withID)")
        let madeUp = try await curl(["-H", "X-Request-Id: bad id with spaces", base + "/healthz"])
        #expect(madeUp.lowercased().contains("x-request-id: ") && !madeUp.contains("bad id"))
        _ = try await curl(["-u", "billing:wrong-secret-value-1234567890", "-d", "grant_type=client_credentials", base + "/oauth/token"])
        _ = try await curl(["-d", "grant_type=client_credentials", "-d", "client_assertion_type=" + ClientAuthenticator.assertionType,
                      "-d", "client_assertion=" + assertion, base + "/oauth/token"])
        _ = try await curl(["-d", "client_id=hs-client", "-d", "client_secret=" + f.billingSecret, "-d", "grant_type=client_credentials", base + "/oauth/token"])
        let minted = try await curl(["-H", "Authorization: Bearer \(f.gatewayToken)", "-H", "Content-Type: application/json", "-d",
                               #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid email phone","user":{"id":"u-9","email":"private@example.com","phone":"+15555550199"}}"#,
                               base + "/v1/tokens"])
        let idToken = try #require(minted.split(whereSeparator: \.isNewline).last.flatMap { try? JSON.parse(Array($0.utf8)).objectValue?["id_token"]?.stringValue })
        _ = try await curl(["-H", "Authorization: Bearer wrong-gateway-token-000000", "-d", "{}", base + "/v1/tokens"])
        _ = try await curl(["-u", "billing:\(f.billingSecret)", "-d", "token=" + accessToken, base + "/oauth/introspect"])
        _ = try await curl(["-H", "DPoP: not.a.proof", "-u", "billing:\(f.billingSecret)", "-d", "grant_type=client_credentials", base + "/oauth/token"])
        for path in ["/.well-known/openid-configuration", "/.well-known/jwks.json", "/metrics", "/nowhere"] { _ = try await curl([base + path]) }
        _ = try await curl(["-X", "DELETE", base + "/oauth/token"])
        // A reload that fails validation.
        let good = try Data(contentsOf: URL(fileURLWithPath: f.configPath))
        try Data(#"{"issuer": 1}"#.utf8).write(to: URL(fileURLWithPath: f.configPath))
        kill(p.processIdentifier, SIGHUP)
        try await Task.sleep(for: .milliseconds(500))
        try good.write(to: URL(fileURLWithPath: f.configPath))
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        try log.close()

        let lines = try String(contentsOf: logFile, encoding: .utf8).split(separator: "\n").map(String.init)
        let objects = lines.compactMap { try? JSON.parse(Array($0.utf8)).objectValue }
        #expect(objects.count == lines.count, "every line is one JSON object")
        for o in objects { #expect(o["ts"] != nil && o["level"] != nil && o["msg"] != nil && o["request_id"] != nil, "\(o)") }
        let access = objects.filter { $0["msg"] == "access" }
        #expect(access.count >= 15, "one access line per request: \(access.count)")
        for a in access {
            for field in ["request_id", "method", "path", "status", "duration_ms", "remote_ip"] { #expect(a[field] != nil, "\(field) in \(a)") }
        }
        let tokenLine = try #require(access.first { $0["request_id"] == "gateway-req.42:a" })
        #expect(tokenLine["client_id"] == "billing" && tokenLine["grant_type"] == "client_credentials" && tokenLine["alg"] == "RS256"
                && tokenLine["kid"] == "rs-1", "\(tokenLine)")
        let pipelineLine = try #require(objects.first { $0["msg"] == "pipeline log" })
        #expect(pipelineLine["log"]?.stringValue?.contains("private@example.com") == true, "the function's text is a field")
        let mintID = try #require(access.first { $0["path"] == "/v1/tokens" && $0["status"] == "200" }?["request_id"])
        #expect(pipelineLine["request_id"] == mintID, "a pipeline's lines carry its request's id")
        #expect(objects.contains { $0["msg"]?.stringValue?.contains("reload failed") == true })

        let text = lines.joined(separator: "\n")
        let basic = Data("billing:\(f.billingSecret)".utf8).base64EncodedString()
        let keyPEM = try String(contentsOf: f.dir.appendingPathComponent("rs.pem"), encoding: .utf8)
        let keyBody = keyPEM.split(separator: "\n").dropFirst().prefix(3).joined()
        for secret in [f.billingSecret, "wrong-secret-value-1234567890", f.gatewayToken, "wrong-gateway-token-000000", basic, assertion,
                       accessToken, idToken, "not.a.proof", keyBody, String(assertion.prefix(40)), String(accessToken.split(separator: ".")[2])] {
            #expect(!text.contains(secret), "the log holds a secret: \(secret.prefix(12))…")
        }
    }
}

@Suite struct LogHandlerTests {
    /// An access line's duration: milliseconds with three decimals.
    @Test(arguments: [(Duration.zero, "0.000"), (.microseconds(1), "0.001"), (.microseconds(999), "0.999"), (.milliseconds(1), "1.000"),
                      (.microseconds(1_234_567), "1234.567"), (.nanoseconds(1_999), "0.001"), (.seconds(-1), "0.000"),
                      (.seconds(Int64.max), "9223372036854775.807")])
    func durationsAreMillisecondsWithThreeDecimals(_ elapsed: Duration, _ text: String) {
        #expect(AccessLog.milliseconds(elapsed) == text)
    }

    /// Request ids' hexadecimal: lowercase, as few digits as the number needs or the padding asks for (at most 16).
    @Test(arguments: [(UInt64(0), 1, "0"), (0xF, 1, "f"), (0x10, 1, "10"), (0xABC, 16, "0000000000000abc"), (UInt64.max, 1, "ffffffffffffffff"),
                      (0x1234_5678_9ABC_DEF0, 4, "123456789abcdef0"), (5, 0, "5"), (5, 40, "0000000000000005")])
    func hexIsLowercaseAndPadded(_ n: UInt64, _ digits: Int, _ text: String) {
        #expect(AccessLog.hex(n, digits: digits) == text)
        #expect(AccessLog.newPrefix().utf8.count == 16)
    }

    /// Lines carry RFC 3339 UTC with milliseconds: the clock's time, each digit in place.
    @Test func timestampsAreTheClocksUTCTimeToTheMillisecond() throws {
        let before = Date()
        let text = ServiceLogHandler.timestamp()
        let after = Date()
        #expect(text.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "\(text)")
        let parsed = try #require(try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        #expect(parsed >= before.addingTimeInterval(-0.001) && parsed <= after, "\(text) is not between \(before) and \(after)")
    }

    /// The date of a day counted from 1970 is glibc's (`gmtime_r`), across eras, leap days and century years.
    @Test(arguments: [-719_468, -141_428, -1, 0, 59, 10_956, 11_016, 20_789, 47_540, 2_932_896])
    func civilDatesAreGlibcsDates(_ around: Int) {
        for day in around - 400...around + 400 {
            var seconds = time_t(day) * 86_400
            var tm = tm()
            gmtime_r(&seconds, &tm)
            let date = ServiceLogHandler.civilDate(daysSince1970: day)
            #expect(date.year == Int(tm.tm_year) + 1900 && date.month == Int(tm.tm_mon) + 1 && date.day == Int(tm.tm_mday), "day \(day): \(date)")
        }
    }

    /// A client_id with a newline (or a blank and `=`) cannot forge a line or a field in the text format.
    @Test(arguments: ["evil\n2026-12-03T00:00:00.000Z info tokenservice: status=200 access", "a b=c", "x\u{2028}y", "q\"", "tab\there", "del\u{7f}"])
    func textLinesCannotBeForged(_ value: String) throws {
        let handler = ServiceLogHandler(label: "t", format: .text, level: .info)
        let line = handler.line(level: .info, message: "access\nforged line", metadata: ["client_id": .string(value), "status": "401"])
        #expect(!line.contains("\n") && !line.contains("\u{2028}") && !line.contains("\u{7f}"), "\(line)")
        #expect(line.contains(" client_id=\"") && line.contains(" status=401 "), "the value is one quoted field: \(line)")
        let start = try #require(line.range(of: "client_id=")).upperBound
        let end = try #require(line.range(of: " status=401 ")).lowerBound
        #expect(try JSON.parse(String(line[start..<end])) == .string(value), "the field reads back as the value")
    }


    /// The access line written straight to the handler is the line swift-log's path writes, in both formats,
    /// with plain and quoted values, with and without metadata of the handler's own.
    @Test(arguments: ServiceLogHandler.Format.allCases, [("bill ing", [:]), ("billing", [:]), ("q\"\\\n\u{1}é", ["listener": "public"]),
                                                          ("billing", ["zone": "eu west", "client_id": "shadowed"])] as [(String, Logger.Metadata)])
    func accessLinesAreTheSameLineEitherWay(_ format: ServiceLogHandler.Format, _ client: (id: String, metadata: Logger.Metadata)) throws {
        let sink = LogSink.capturing()
        var base = Logger(label: "tokenservice") { ServiceLogHandler(label: $0, format: format, level: .info, sink: sink) }
        for (key, value) in client.metadata { base[metadataKey: key] = value }
        let scope = RequestScope(logger: base, requestID: "r-7")
        let logger = scope.logger
        scope.note.set { $0.clientID = client.id; $0.grantType = "client_credentials"; $0.alg = "ES256"; $0.kid = "es-1" }
        AccessLog.write(scope, method: .POST, path: "/oauth/token", status: .ok, elapsed: .microseconds(1234), remoteIP: "203.0.113.7",
                        loop: MultiThreadedEventLoopGroup.singleton.next())
        logger.info("access", metadata: ["method": "POST", "path": "/oauth/token", "status": "200", "duration_ms": "1.234",
                                         "remote_ip": "203.0.113.7", "client_id": .string(client.id), "grant_type": "client_credentials",
                                         "alg": "ES256", "kid": "es-1"])
        let lines = sink.lines
        #expect(lines.count == 2)
        // Only the timestamps (milliseconds apart at most) may differ.
        func withoutTime(_ line: String) -> String { line.replacingOccurrences(of: #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"#, with: "T", options: .regularExpression) }
        #expect(withoutTime(lines[0]) == withoutTime(lines[1]), "\(lines)")
        #expect(lines[0].contains("request_id") && lines[0].contains("r-7") && lines[0].contains("ES256") && !lines[0].contains("shadowed"))
        if format == .json {
            let fields = try #require(try JSON.parse(lines[0]).objectValue)
            #expect(fields["client_id"] == .string(client.id) && fields["request_id"] == "r-7" && fields["msg"] == "access")
        }
    }

    /// Access lines of one event-loop turn are held and written at its end, in order; a line written
    /// directly goes after the held ones; held lines never pass `batchBytes` in one write.
    @Test func accessLinesOfOneLoopTurnGoOutAtItsEnd() async throws {
        var fds: [Int32] = [-1, -1]
        let made = pipe(&fds)
        try #require(made == 0 && fds[0] > 2 && fds[1] > 2)
        defer { close(fds[0]); close(fds[1]) }
        let (reader, sink) = (fds[0], LogSink.writing(to: fds[1]))
        func readable() -> Bool {
            var p = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
            return poll(&p, 1, 0) == 1
        }
        func readAll() -> String {
            var out: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
            while readable() {
                let n = read(reader, &buffer, buffer.count)
                out += buffer.prefix(max(0, n))
            }
            return String(decoding: out, as: UTF8.self)
        }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let heldDuringTheTurn = try await loop.submit {
            for n in 0..<3 { sink.writeBatched(Array("a\(n)\n".utf8), on: loop) }
            return !readable()
        }.get()
        try await loop.submit {}.get()
        #expect(heldDuringTheTurn && readAll() == "a0\na1\na2\n")

        let (direct, full) = try await loop.submit {
            sink.writeBatched(Array("b0\n".utf8), on: loop)
            sink.write(Array("direct\n".utf8))
            let direct = readAll()
            sink.writeBatched(Array(String(repeating: "x", count: LogSink.batchBytes - 2).utf8) + [0x0A], on: loop)
            sink.writeBatched(Array("c0\n".utf8), on: loop)
            return (direct, readAll())
        }.get()
        try await loop.submit {}.get()
        #expect(direct == "b0\ndirect\n")
        #expect(full.count == LogSink.batchBytes - 1, "the held lines went out when the next would not fit")
        #expect(readAll() == "c0\n")
    }

    @Test func jsonLinesEscapeEverythingAndDropCredentialFields() throws {
        let handler = ServiceLogHandler(label: "t", format: .json, level: .info)
        let line = handler.line(level: .info, message: "a \"quoted\"\n\tline \u{1}", metadata: ["request_id": "r-1", "x": "y"])
        let o = try #require(try JSON.parse(Array(line.utf8)).objectValue)
        #expect(o["msg"] == "a \"quoted\"\n\tline \u{1}" && o["request_id"] == "r-1" && o["x"] == "y")
        let ts = try #require(o["ts"]?.stringValue)
        #expect(ts.count == 24 && ts.hasSuffix("Z") && ts.dropFirst(10).first == "T", "\(ts)")
        let sink = LogSink.capturing()
        var logger = Logger(label: "t") { ServiceLogHandler(label: $0, format: .json, level: .info, sink: sink) }
        logger[metadataKey: "request_id"] = "r-2"
        logger.info("call", metadata: ["authorization": "Basic c2VjcmV0", "client_secret": "s3cret", "client_id": "billing"])
        #expect(sink.lines.count == 1 && !sink.lines[0].contains("c2VjcmV0") && !sink.lines[0].contains("s3cret") && sink.lines[0].contains("billing"))
    }
}
