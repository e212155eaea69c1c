import Logging
import Pipeline
import Testing

/// A warning that can come with every request is written at once, then at most once per interval,
/// each line counting the times it stands for.
@Suite struct ThrottledWarningTests {
    @Test func theFirstIsWrittenAtOnceThenOneLinePerIntervalWithItsCount() async throws {
        let capture = LogCapture()
        let logger = capture.logger(label: "t")
        let warning = ThrottledWarning("worker stuck", interval: .milliseconds(300))
        var made = 0
        for n in 1...5 {
            warning.note(logger: logger) {
                made += 1
                return ["n": "\(n)"]
            }
        }
        #expect(capture.lines.map(\.message) == ["worker stuck"])
        #expect(capture.lines.first?.metadata["n"] == "1" && capture.lines.first?.metadata["count"] == "1")
        #expect(made == 1, "metadata is made only for a line that is written")
        try await Task.sleep(for: .milliseconds(350))
        warning.note(logger: logger) { ["n": "6"] }
        #expect(capture.lines.count == 2)
        #expect(capture.lines.last?.metadata["n"] == "6" && capture.lines.last?.metadata["count"] == "5", "the four held back and this one")
    }
}
