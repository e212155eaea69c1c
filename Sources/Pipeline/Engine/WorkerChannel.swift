import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The event-loop side of a worker's reply pipe: frames are split off as they arrive and the frames
/// of one read are handed over together (one wake-up carries many replies under load).
enum WorkerChannel {
    /// Has `loop` read `fd` and hand frames to `owner`; `completion` gets the channel (or the failure).
    static func watch(_ fd: Int32, on loop: any EventLoop, owner: WorkerProcess, pid: pid_t,
                      completion: @escaping @Sendable (Result<any Channel, any Error>) -> Void) {
        NIOPipeBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(ByteToMessageHandler(FrameDecoder()), ReplyHandler(owner: owner, pid: pid))
                }
            }
            .takingOwnershipOfDescriptor(input: fd)
            .whenComplete(completion)
    }
}

/// Splits the reply pipe's bytes into frame payloads.
private struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
              buffer.readableBytes >= 4 + Int(length),
              let frame = buffer.getBytes(at: buffer.readerIndex + 4, length: Int(length))
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4 + Int(length))
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Hands the frames of one read to the worker's owner at once.
private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    private let owner: WorkerProcess
    private let pid: pid_t
    private var frames: [[UInt8]] = []

    init(owner: WorkerProcess, pid: pid_t) {
        self.owner = owner
        self.pid = pid
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { frames.append(unwrapInboundIn(data)) }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !frames.isEmpty else { return }
        let batch = frames
        frames.removeAll(keepingCapacity: true)
        owner.received(batch, pid: pid)
    }

    func channelInactive(context: ChannelHandlerContext) {
        channelReadComplete(context: context)
        owner.replyPipeClosed(pid: pid)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
