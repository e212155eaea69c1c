import Foundation
import Pipeline
import Testing

/// The fuzz corpus (Fuzz/corpus: seeds and every input a fuzzer found worth keeping) replayed through the
/// fuzz targets in a plain build: a parser that traps on any of them fails here, without libFuzzer.
@Suite struct FuzzCorpusTests {
    @Test(arguments: ["jws", "json", "form", "dpop", "assertion", "jwk", "wire", "forwarded"])
    func everyCorpusInputPasses(target: String) async throws {
        let corpus = EndToEndTests.repoRoot.appendingPathComponent("Fuzz/corpus/\(target)").path
        let r = try await EndToEndTests.run(WorkerLaunch.siblingExecutable(named: "TokenServiceFuzz"), [target, corpus])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("\(target): ") && !r.output.contains(": 0 inputs"), "\(r.output)")
    }
}
