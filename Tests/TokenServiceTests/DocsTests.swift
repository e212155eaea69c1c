import Foundation
import JSONCore
import Testing
import TestSupport
@testable import TokenService

/// Every code sample in docs/ runs: shell and Python samples against a live service started with the
/// development config (as `make run` serves it; ports swapped for free ones), config samples through
/// `config check`, YAML through a parser. A sample that is not meant to run is fenced as `text`.
@Suite(.serialized) struct DocsTests {
    struct Sample {
        var file: String
        var language: String
        var code: String
    }

    /// Runbooks whose samples run in order in one shell, against the setup they need, in suites of their own
    /// (RunbookTests, DeploymentDocTests).
    static let runAsRunbooks: Set<String> = ["key-rotation.md", "deployment.md"]

    static func samples() throws -> [Sample] {
        let dir = EndToEndTests.repoRoot.appendingPathComponent("docs")
        var out: [Sample] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name.hasSuffix(".md") && !runAsRunbooks.contains(name) {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            var language: String?, code: [Substring] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if let lang = language {
                    if trimmed == "```" {
                        out.append(Sample(file: name, language: lang, code: code.joined(separator: "\n")))
                        language = nil
                        code = []
                    } else {
                        code.append(line)
                    }
                } else if trimmed.hasPrefix("```") {
                    language = String(trimmed.dropFirst(3))
                }
            }
        }
        return out
    }

    /// What a newcomer meets first: the algorithms `keys generate` takes are listed the same in its help and the
    /// docs; samples use the build's bin path, never `.build/debug/`; README links stay in the repository.
    @Test func theDocsAgreeWithTheCode() async throws {
        let repo = EndToEndTests.repoRoot
        let readme = try String(contentsOf: repo.appendingPathComponent("README.md"), encoding: .utf8)
        let configuration = try String(contentsOf: repo.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for text in [readme, configuration] { #expect(text.contains("keys generate --alg \(KeysCommand.Generate.algorithms) --out FILE")) }
        let help = try await EndToEndTests.run(EndToEndTests.binary, ["keys", "generate", "--help"]).output
        #expect(help.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: "").contains(KeysCommand.Generate.algorithms), "\(help)")
        let docs = try FileManager.default.contentsOfDirectory(atPath: repo.appendingPathComponent("docs").path).filter { $0.hasSuffix(".md") }
        for name in docs + ["../README.md"] {
            let text = try String(contentsOf: repo.appendingPathComponent("docs/" + name), encoding: .utf8)
            #expect(!text.contains(".build/debug/") && !text.contains(".build/release/"), "\(name) hard-codes a build path")
        }
        #expect(!readme.contains("](http"), "README links outside the repository")
    }

    @Test func everySampleRuns() async throws {
        let samples = try Self.samples()
        #expect(samples.filter { $0.language == "sh" || $0.language == "python" }.count >= 5)
        #expect(samples.allSatisfy { ["sh", "python", "json", "yaml", "swift", "text"].contains($0.language) }, "\(samples.map(\.language))")

        // The development config, as make run serves it, on free ports.
        let server = try await DevServer()
        let (port, work, repo) = (server.port, server.work, EndToEndTests.repoRoot)
        // The example backends' ports in the docs (8090; 8091 and 8092 for a call chain), on free ones.
        let backendPorts = [8090, 8091, 8092].map { ($0, unusedLoopbackPort()) }

        for (n, sample) in samples.enumerated() {
            var code = sample.code.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(port)")
                .replacingOccurrences(of: "config/dev.json", with: work.appendingPathComponent("config/dev.json").path)
            for (documented, free) in backendPorts {
                code = code.replacingOccurrences(of: "127.0.0.1:\(documented)", with: "127.0.0.1:\(free)")
                    .replacingOccurrences(of: "--port \(documented)", with: "--port \(free)")
                    .replacingOccurrences(of: "for port in 8091 8092", with: "for port in \(backendPorts[1].1) \(backendPorts[2].1)")
            }
            let file = work.appendingPathComponent("sample-\(n)")
            let result: (status: Int32, output: String)
            switch sample.language {
            case "sh":
                // The built binaries on the PATH, as the docs say to put them.
                let bin = URL(fileURLWithPath: EndToEndTests.binary).deletingLastPathComponent().path
                try ("set -euo pipefail\ncd " + repo.path + "\nexport PATH=\"" + bin + ":$PATH\"\n" + code).write(to: file, atomically: true, encoding: .utf8)
                result = try await EndToEndTests.run("bash", [file.path])
            case "python":
                try code.write(to: file, atomically: true, encoding: .utf8)
                result = try await EndToEndTests.run("python3", [file.path])
            case "swift" where sample.code.hasPrefix("// swift-tools-version"):
                // A package manifest: it must parse.
                try sample.code.write(to: work.appendingPathComponent("sample-\(n).swift"), atomically: true, encoding: .utf8)
                result = try await EndToEndTests.run("swiftc", ["-parse", work.appendingPathComponent("sample-\(n).swift").path])
            case "swift":
                // Lines of the example backend, which the build compiles: each must be in it as written.
                let source = try String(contentsOf: repo.appendingPathComponent("Sources/ExampleBackend/main.swift"), encoding: .utf8)
                let lines = Set(source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
                let missing = sample.code.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !lines.contains($0) }
                result = (missing.isEmpty ? 0 : 1, missing.joined(separator: "\n"))
            case "yaml":
                try code.write(to: file, atomically: true, encoding: .utf8)
                result = try await EndToEndTests.run("python3", ["-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))", file.path])
            case "json" where code.contains("\"issuer\""):
                // A config sample: its key files made, its env set, then `config check`.
                let dir = work.appendingPathComponent("config-\(n)")
                try FileManager.default.createDirectory(at: dir.appendingPathComponent("keys"), withIntermediateDirectories: true)
                try code.write(to: dir.appendingPathComponent("c.json"), atomically: true, encoding: .utf8)
                for path in code.split(separator: "\"").filter({ $0.hasSuffix(".pem") }) {
                    _ = try await EndToEndTests.run(EndToEndTests.binary, ["keys", "generate", "--alg", "RS256", "--out", dir.appendingPathComponent(String(path)).path])
                }
                result = try await EndToEndTests.run("env", ["BILLING_SECRET=billing-secret-0123456789abcdef0123", EndToEndTests.binary, "config", "check",
                                                       dir.appendingPathComponent("c.json").path])
            default:
                continue
            }
            #expect(result.status == 0, "\(sample.file) sample \(n) (\(sample.language)) failed:\n\(code)\n---\n\(result.output)")
        }
    }
}
