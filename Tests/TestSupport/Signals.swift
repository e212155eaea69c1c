#if canImport(Glibc)
import Glibc
#endif

/// What the `tokenservice` executable's `main` does before it starts a pipeline engine: a worker that
/// dies mid-write gives EPIPE instead of killing the process. Test processes that start engines call it.
public func ignoreSIGPIPE() {
    signal(SIGPIPE, SIG_IGN)
}
