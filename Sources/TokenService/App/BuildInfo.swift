import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// The release this binary is (bumped with a `vX.Y.Z` tag, docs/releases.md) and the git commit it was
/// built from. `make` links the commit into the ELF build-id note as "ts" + the commit's 20 bytes
/// (`-Xlinker --build-id=0x7473…`); a binary built otherwise says "unknown".
enum BuildInfo {
    static let version = "0.7.0"

    static var commit: String { buildIDCommit() ?? "unknown" }

    static var description: String { "tokenservice \(version) (commit \(commit))" }

    /// The commit in this executable's build-id note, when `make` put it there (read from the ELF file's
    /// program headers: the PT_NOTE segments, the NT_GNU_BUILD_ID note named "GNU").
    static func buildIDCommit(executable: String = "/proc/self/exe") -> String? {
        let fd = open(executable, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        func read(_ count: Int, at offset: Int) -> [UInt8]? {
            guard count > 0, count <= 1 << 20, offset >= 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count ? buffer : nil
        }
        func int(_ b: [UInt8], _ at: Int, _ size: Int) -> Int {
            var v = 0
            for i in (0..<size).reversed() { v = v << 8 | Int(b[at + i]) }
            return v
        }
        // ELF64, little-endian only (the platforms this service builds for).
        guard let header = read(64, at: 0), header[0...3] == [0x7F, 0x45, 0x4C, 0x46], header[4] == 2, header[5] == 1 else { return nil }
        let phOffset = int(header, 32, 8), phSize = int(header, 54, 2), phCount = int(header, 56, 2)
        guard phSize >= 56, phCount < 256, let table = read(phSize * phCount, at: phOffset) else { return nil }
        for i in 0..<phCount where int(table, i * phSize, 4) == 4 {  // PT_NOTE
            guard let notes = read(int(table, i * phSize + 32, 8), at: int(table, i * phSize + 8, 8)) else { continue }
            var at = 0
            while at + 12 <= notes.count {
                let nameSize = int(notes, at, 4), descSize = int(notes, at + 4, 4), type = int(notes, at + 8, 4)
                let desc = at + 12 + (nameSize + 3) & ~3
                guard nameSize < 256, descSize < 4096, desc + descSize <= notes.count else { break }
                if type == 3, nameSize == 4, notes[(at + 12)..<(at + 16)] == [0x47, 0x4E, 0x55, 0] {
                    let id = Array(notes[desc..<(desc + descSize)])
                    guard id.count == 22, id[0] == 0x74, id[1] == 0x73 else { return nil }
                    return id.dropFirst(2).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
                }
                at = desc + (descSize + 3) & ~3
            }
        }
        return nil
    }
}

/// `tokenservice version` (and `--version`).
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version and the git commit it was built from.")
    func run() { print(BuildInfo.description) }
}
