import Hummingbird
import NIOCore

/// Request context carrying the peer address (pipelines see it as `context.request.ip`).
struct TokenRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteIP: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteIP = source.channel.remoteAddress?.ipAddress ?? ""
    }

    /// Bodies larger than this are refused with 413 before they are read in full.
    var maxUploadSize: Int { 256 * 1024 }
}
