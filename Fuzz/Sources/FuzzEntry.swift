#if canImport(Glibc)
import Glibc
#endif

/// One input for the target named by `FUZZ_TARGET` (libFuzzer's callback; the symbol its runtime expects).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    selectedTarget(bytes)
    return 0
}

#if FUZZING
/// libFuzzer's driver (public API since LLVM 11): parses libFuzzer's flags and calls back per input.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

/// Writes `message` to standard error and exits.
func fail(_ message: String, status: Int32) -> Never {
    var text = message + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(status)
}

let selectedTarget: @Sendable ([UInt8]) -> Void = {
    let name = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = FuzzTargets.all[name] else {
        fail("FUZZ_TARGET must be one of \(FuzzTargets.all.keys.sorted().joined(separator: ", "))", status: 2)
    }
    return target
}()

/// Built with `-sanitize=fuzzer -DFUZZING` (make fuzz): libFuzzer runs the target named by `FUZZ_TARGET`
/// with its usual flags. A plain build: `TokenServiceFuzz TARGET FILE|DIR...` runs each file through the
/// target once (the corpus as a regression test).
@main
struct FuzzMain {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOneInput($0, $1) })
        #else
        replay()
        #endif
    }

    static func replay() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let name = args.first, let target = FuzzTargets.all[name] else {
            fail("usage: TokenServiceFuzz TARGET FILE|DIR... (targets: \(FuzzTargets.all.keys.sorted().joined(separator: ", ")))", status: 2)
        }
        var count = 0
        for path in args.dropFirst() {
            for file in files(at: path) {
                guard let bytes = read(file) else { fail("cannot read \(file)", status: 1) }
                target(bytes)
                count += 1
            }
        }
        print("\(name): \(count) inputs replayed")
    }

    static func files(at path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(path + "/" + name) }
        }
        return out.sorted()
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }
}
