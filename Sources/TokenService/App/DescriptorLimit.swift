#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit, and the connection cap it leaves room for.
enum DescriptorLimit {
    /// Descriptors kept for everything but client connections (listeners, pipeline workers' pipes, Redis,
    /// outbound HTTP, key and config files on reload): a quarter of the limit, between 16 and 128.
    static func reserved(of descriptors: Int) -> Int { min(128, max(16, descriptors / 4)) }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit (as servers do at start); the soft limit now in force.
    @discardableResult
    static func raiseToHard() -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// `configured`, or fewer when the descriptors would run out first: a connection past the cap waits
    /// in the kernel's queue instead of making the process fail to open a file.
    static func connectionCap(configured: Int, descriptors: Int) -> Int {
        max(1, min(configured, descriptors - reserved(of: descriptors)))
    }
}
