import NIOSSL
import Synchronization

/// `listen.tls`: the listeners' TLS context from PEM files. `reload()` reads the files again (SIGHUP):
/// new connections get the new certificate, open ones keep theirs; a pair that does not load is
/// refused and the old one kept.
final class ServerTLS: Sendable {
    let files: ServiceConfig.Listen.TLSFiles
    private let current: Mutex<NIOSSLContext>

    init(files: ServiceConfig.Listen.TLSFiles) throws(ServerTLSError) {
        self.files = files
        current = Mutex(try Self.context(files))
    }

    var context: NIOSSLContext { current.withLock { $0 } }

    func reload() throws(ServerTLSError) {
        let fresh = try Self.context(files)
        current.withLock { $0 = fresh }
    }

    static func context(_ files: ServiceConfig.Listen.TLSFiles) throws(ServerTLSError) -> NIOSSLContext {
        do { try KeyRing.checkPermissions(files.privateKeyFile) } catch { throw ServerTLSError(description: "\(error)") }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
            guard !chain.isEmpty else { throw ServerTLSError(description: "\(files.certificateFile) holds no certificate") }
            let key = try NIOSSLPrivateKey(file: files.privateKeyFile, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            configuration.applicationProtocols = ["http/1.1"]
            return try NIOSSLContext(configuration: configuration)
        } catch let error as ServerTLSError {
            throw error
        } catch {
            throw ServerTLSError(description: "\(files.certificateFile) and \(files.privateKeyFile) do not load: \(error)")
        }
    }
}

struct ServerTLSError: Error, CustomStringConvertible {
    let description: String
}
