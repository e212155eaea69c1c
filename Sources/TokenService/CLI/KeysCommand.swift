import ArgumentParser
import Foundation
import JOSE

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "Key management.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a new signing key (mode 0600).")
        /// Every algorithm this service signs with (the docs list the same, checked by DocsTests).
        static let algorithms = JWSAlgorithm.allCases.map(\.rawValue).joined(separator: "|")

        @Option(help: ArgumentHelp("The algorithm the key is for: \(algorithms).")) var alg: String
        @Option(help: "Output file; it must not exist yet.") var out: String

        func run() throws {
            guard let algorithm = JWSAlgorithm(rawValue: alg) else { throw CommandFailure("unsupported algorithm \(alg); use one of \(Self.algorithms)") }
            let contents: String
            switch algorithm.family {
            case .hmac: contents = Base64URL.encode(secureRandomBytes(algorithm.digest.byteCount * 3 / 2 + 16)) + "\n"
            case .rsaPKCS1, .rsaPSS: contents = try EVPKey.generateRSA(bits: 2048).privateKeyPEM()
            case .ecdsa: contents = try EVPKey.generateEC(curve: algorithm.curve?.openSSL ?? "P-256").privateKeyPEM()
            case .eddsa: contents = try EVPKey.generateEd25519().privateKeyPEM()
            }
            try SecretFile.create(out, contents: Array(contents.utf8))
            print("wrote \(algorithm.rawValue) key to \(out)")
        }
    }
}

enum SecretFile {
    /// Creates `path` with mode 0600 (never world- or group-readable, not even briefly).
    static func create(_ path: String, contents: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CommandFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == contents.count else { throw CommandFailure("cannot write \(path)") }
    }
}
