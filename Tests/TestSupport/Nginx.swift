public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real nginx (Debian's) on a free loopback port, load-balancing to `upstreams` and adding
/// `X-Forwarded-For` as a reverse proxy in front of the service does; stopped when this object goes away.
public final class Nginx: Sendable {
    public let port: Int
    public let directory: URL
    private let process: Mutex<Process>

    /// Starts nginx on a thread of its own (`offPool`): waiting for it to listen.
    public static func start(upstreams: [Int]) async throws -> Nginx {
        try await offPool { try Nginx(upstreams: upstreams) }
    }

    public init(upstreams: [Int]) throws {
        port = unusedLoopbackPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let dir = directory.path
        let config = """
            worker_processes 1;
            daemon off;
            pid \(dir)/nginx.pid;
            error_log \(dir)/error.log;
            events { worker_connections 256; }
            http {
              access_log off;
              client_body_temp_path \(dir); proxy_temp_path \(dir); fastcgi_temp_path \(dir); uwsgi_temp_path \(dir); scgi_temp_path \(dir);
              upstream replicas { \(upstreams.map { "server 127.0.0.1:\($0) max_fails=0;" }.joined(separator: " ")) keepalive 16; }
              server {
                listen 127.0.0.1:\(port);
                location / {
                  proxy_pass http://replicas; proxy_http_version 1.1; proxy_set_header Connection "";
                  proxy_set_header Host $host; proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                }
              }
            }
            """
        try config.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["nginx", "-c", dir + "/nginx.conf", "-e", dir + "/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = Mutex(process)
        for _ in 0..<100 {
            if let c = RawConnection(port: port, timeoutSeconds: 1) { _ = c; return }
            usleep(50_000)
        }
        throw CocoaError(.fileReadUnknown)
    }

    /// SIGTERM: nginx's fast shutdown, which stops its worker too (a SIGKILLed master would leave the worker
    /// holding what Foundation watches for the master's exit).
    deinit {
        process.withLock { p in
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
