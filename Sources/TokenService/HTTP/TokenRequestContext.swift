import Hummingbird
import NIOCore

/// Request context carrying the peer address (pipelines see it as `context.request.ip`) and the note
/// its access line reports.
struct TokenRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteIP: String
    let note = RequestNote()
    /// What the request's code logs with and notes for the access line.
    var scope: RequestScope { RequestScope(logger: logger, note: note) }

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteIP = source.channel.remoteAddress?.ipAddress ?? ""
    }

    /// Bodies larger than this are refused with 413 before they are read in full.
    var maxUploadSize: Int { 256 * 1024 }
}
