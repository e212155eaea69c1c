public import Foundation

/// A certificate authority made for one test with `openssl`, and server certificates it signs (for
/// `localhost` and 127.0.0.1), as PEM files in `directory`; private keys are mode 0600.
public final class TestCA: Sendable {
    public let directory: URL
    public var certificate: String { directory.appendingPathComponent("ca.pem").path }

    /// Makes the CA on a thread of its own (`offPool`): `openssl` runs to its end.
    public static func make(directory: URL, name: String = "tokenservice test CA") async throws -> TestCA {
        try await offPool { try TestCA(directory: directory, name: name) }
    }

    /// `issue` on a thread of its own (`offPool`).
    @discardableResult
    public func issueOffPool(_ name: String, commonName: String = "localhost") async throws -> (certificate: String, key: String) {
        try await offPool { try self.issue(name, commonName: commonName) }
    }

    public init(directory: URL, name: String = "tokenservice test CA") throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                          "-keyout", directory.appendingPathComponent("ca.key").path, "-out", certificate, "-subj", "/CN=\(name)"])
    }

    /// A server certificate and key signed by this CA, written to `name`.pem and `name`.key.
    @discardableResult
    public func issue(_ name: String, commonName: String = "localhost") throws -> (certificate: String, key: String) {
        let cert = directory.appendingPathComponent("\(name).pem").path, key = directory.appendingPathComponent("\(name).key").path
        let csr = directory.appendingPathComponent("\(name).csr").path, ext = directory.appendingPathComponent("\(name).ext").path
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: ext, atomically: true, encoding: .utf8)
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                          "-subj", "/CN=\(commonName)"])
        try Self.openssl(["x509", "-req", "-in", csr, "-CA", certificate, "-CAkey", directory.appendingPathComponent("ca.key").path,
                          "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert])
        chmod(key, 0o600)
        return (cert, key)
    }

    static func openssl(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    }
}
