import Foundation
import JSONCore
import Testing
import TestSupport
@testable import TokenService

/// The production edge on the real binary: an admin listener, TLS on both listeners (curl and Python's
/// `ssl` against a CA made here), certificate reload on SIGHUP without dropping connections, what a
/// replica says it loaded, start-only settings, a busy port.
@Suite(.serialized) struct ProductionEdgeTests {
    /// `curl` with the test CA: (status, body).
    static func curl(_ ca: TestCA?, _ args: [String]) async throws -> (status: Int, body: String) {
        let r = try await EndToEndTests.run("curl", ["-s", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"] + (ca.map { ["--cacert", $0.certificate] } ?? []) + args)
        let lines = r.output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static func tlsServer(gatewayAPIOnAdmin: Bool = false) async throws -> (DevServer, TestCA, adminPort: Int) {
        let ca = try await TestCA.make(directory: FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString)"))
        let (certificate, key) = try await ca.issueOffPool("server")
        let adminPort = unusedLoopbackPort()
        let server = try await DevServer(edit: { config in
            var listen = config["listen"]?.objectValue ?? [:]
            listen["tls"] = ["certificate_file": .string(certificate), "private_key_file": .string(key)]
            listen["admin"] = ["host": "127.0.0.1", "port": .int(Int64(adminPort)), "gateway_api": .bool(gatewayAPIOnAdmin)]
            config["listen"] = .object(listen)
            config["issuer"] = .string("https://localhost:\(listen["port"]?.intValue ?? 0)")
        }, ready: { _ in (try? await Self.curl(ca, ["https://localhost:\(adminPort)/healthz"]).status) == 200 })
        return (server, ca, adminPort)
    }

    @Test func theAdminListenerServesMetricsAndHealthAndBothServeTLS() async throws {
        let (server, ca, adminPort) = try await Self.tlsServer()
        let pub = "https://localhost:\(server.port)", admin = "https://localhost:\(adminPort)"
        #expect(try await Self.curl(ca, [pub + "/.well-known/openid-configuration"]).status == 200)
        #expect(try await Self.curl(ca, [pub + "/metrics"]).status == 404, "metrics are not public")
        #expect(try await Self.curl(ca, [pub + "/healthz"]).status == 404)
        let token = try await Self.curl(ca, ["-u", "billing:billing-secret-0123456789abcdef0123", "-d", "grant_type=client_credentials", pub + "/oauth/token"])
        #expect(token.status == 200, "\(token.body) \(server.log.split(separator: "\n").filter { $0.contains("pipeline failed") })")
        #expect(try await Self.curl(ca, ["-d", "grant_type=client_credentials", admin + "/oauth/token"]).status == 404, "no token endpoint on the admin port")
        #expect(try await Self.curl(ca, [admin + "/v1/tokens", "-d", "{}"]).status == 404, "the gateway API stays public unless asked")

        // What this replica loaded: the config file's digest and the signing key, in /healthz and the metric.
        let health = try #require(try JSON.parse(Array(await Self.curl(ca, [admin + "/healthz"]).body.utf8)).objectValue)
        let digest = try await EndToEndTests.run("sha256sum", [server.configPath]).output.prefix(64)
        #expect(health["config_sha256"]?.stringValue == String(digest))
        #expect(health["signing_kid"]?.stringValue?.isEmpty == false)
        let metrics = try await Self.curl(ca, [admin + "/metrics"]).body
        #expect(metrics.contains(#"tokenservice_config_info{config_sha256="\#(digest)",signing_kid="\#(health["signing_kid"]?.stringValue ?? "")"} 1"#),
                "\(metrics.split(separator: "\n").filter { $0.contains("config") })")

        // Plain HTTP on a TLS port is not served; Python's ssl module agrees on the certificate and version.
        #expect(try await Self.curl(nil, ["http://127.0.0.1:\(server.port)/.well-known/jwks.json"]).status != 200)
        let py = try await EndToEndTests.run("python3", ["-c", """
            import socket, ssl, sys
            ctx = ssl.create_default_context(cafile=sys.argv[1])
            for port in sys.argv[2:]:
                with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="localhost") as s:
                    print(s.version(), s.selected_alpn_protocol(), dict(x[0] for x in s.getpeercert()["subject"])["commonName"])
            """, ca.certificate, String(server.port), String(adminPort)])
        #expect(py.status == 0 && py.output.split(separator: "\n").allSatisfy { $0.hasPrefix("TLSv1.3") && $0.hasSuffix("localhost") }, "\(py.output)")
    }

    @Test func theGatewayAPICanMoveToTheAdminListener() async throws {
        let (server, ca, adminPort) = try await Self.tlsServer(gatewayAPIOnAdmin: true)
        let body = #"{"client_id":"web-app","grant_type":"authorization_code","scope":"openid","user":{"id":"u-1","email":"ada@example.com"}}"#
        let headers = ["-H", "Authorization: Bearer dev-gateway-token-0123456789", "-H", "Content-Type: application/json", "-d", body]
        #expect(try await Self.curl(ca, headers + ["https://localhost:\(server.port)/v1/tokens"]).status == 404)
        let minted = try await Self.curl(ca, headers + ["https://localhost:\(adminPort)/v1/tokens"])
        #expect(minted.status == 200, "\(minted.body)")
    }

    /// SIGHUP with a new certificate in the same files: an open keep-alive connection goes on being served
    /// (with the certificate it started with), new connections get the new one.
    @Test func aCertificateReloadDropsNoConnection() async throws {
        let (server, ca, _) = try await Self.tlsServer()
        let flag = ca.directory.appendingPathComponent("go").path
        let client = Process()
        let out = Pipe()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["python3", "-c", """
            import http.client, os, ssl, sys, time
            ctx = ssl.create_default_context(cafile=sys.argv[1])
            def serial(conn): return conn.sock.getpeercert()["serialNumber"]
            old = http.client.HTTPSConnection("localhost", int(sys.argv[2]), context=ctx)
            old.request("GET", "/.well-known/jwks.json"); r = old.getresponse(); r.read()
            print("first", r.status, serial(old), flush=True)
            while not os.path.exists(sys.argv[3]): time.sleep(0.05)
            old.request("GET", "/.well-known/jwks.json"); r = old.getresponse(); r.read()
            print("same-connection", r.status, serial(old), flush=True)
            new = http.client.HTTPSConnection("localhost", int(sys.argv[2]), context=ctx)
            new.request("GET", "/.well-known/jwks.json"); r = new.getresponse(); r.read()
            print("new-connection", r.status, serial(new), flush=True)
            """, ca.certificate, String(server.port), flag]
        client.standardOutput = out
        try client.run()
        // The first answer arrives before the certificate changes.
        let reader = out.fileHandleForReading
        var text = ""
        while !text.contains("\n") { text += String(decoding: reader.availableData, as: UTF8.self) }
        try await ca.issueOffPool("server")
        server.signal(SIGHUP)
        #expect(try await server.waitForLog("configuration reloaded"))
        FileManager.default.createFile(atPath: flag, contents: nil)
        text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        let rows = text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        try #require(rows.count == 3, "\(text)")
        #expect(rows.allSatisfy { $0[1] == "200" }, "\(text)")
        #expect(rows[1][2] == rows[0][2], "the open connection keeps its certificate")
        #expect(rows[2][2] != rows[0][2], "a new connection gets the new one")
    }

    @Test func startOnlySettingsAreNamedOnReloadAndABusyPortIsNamed() async throws {
        let server = try await DevServer()
        var config = try #require(try JSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: server.configPath)))).objectValue)
        var listen = config["listen"]?.objectValue ?? [:]
        listen["max_connections"] = 77
        config["listen"] = .object(listen)
        try Data(JSON.serializeString(.object(config)).utf8).write(to: URL(fileURLWithPath: server.configPath))
        server.signal(SIGHUP)
        #expect(try await server.waitForLog("configuration reloaded"))
        #expect(server.log.contains("setting=listen.max_connections"), "\(server.log.suffix(600))")

        let second = try await EndToEndTests.run(EndToEndTests.binary, ["serve", "--config", server.configPath])
        #expect(second.status != 0 && second.output.contains("cannot listen on 127.0.0.1:\(server.port)"), "\(second.output)")
    }

    @Test func versionNamesTheRelease() async throws {
        for args in [["--version"], ["version"]] {
            let r = try await EndToEndTests.run(EndToEndTests.binary, args)
            #expect(r.status == 0 && r.output.hasPrefix("tokenservice \(BuildInfo.version) (commit "), "\(r.output)")
        }
    }
}
