import Foundation

/// What /proc says about a process (pipeline workers, servers the tests start).
public enum ProcessStat {
    /// The fields of /proc/<pid>/stat after the command name (field 3, the state, comes first).
    public static func fields(_ pid: Int32) -> [Substring] {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = text.lastIndex(of: ")") else { return [] }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// User + system CPU time, in clock ticks.
    public static func cpuTicks(_ pid: Int32) -> Int {
        let f = fields(pid)
        return f.count > 12 ? (Int(f[11]) ?? 0) + (Int(f[12]) ?? 0) : 0
    }

    /// The nice value of the process's main thread.
    public static func nice(_ pid: Int32) -> Int? {
        let f = fields(pid)
        return f.count > 16 ? Int(f[16]) : nil
    }

    public static func isZombie(_ pid: Int32) -> Bool { fields(pid).first == "Z" }

    public static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0) }
        }
    }
}
