import FanoutEngine
import NIOCore
import NIOWebSocket

/// Turns client frames into whole messages: checks that each is masked (RFC 6455 §5.1: a server
/// MUST close the connection on an unmasked frame), checks the reserved bits (§5.2), joins fragments
/// (§5.4), and inflates permessage-deflate messages (RFC 7692, RSV1 on the first frame) when that
/// was negotiated. Control frames pass straight through, also between fragments.
///
/// Used instead of NIO's `NIOWebSocketFrameAggregator`, which drops RSV1 from fragmented messages
/// (and hands on reassembled messages without a mask key, so the mask must be checked here, on the
/// frames). One value for all of it, not a handler per check: every handler in a pipeline costs each
/// connection a context (~150 bytes) for its lifetime. A value, so that both transports use it: the
/// NIO pipeline through `MessageAssembler`, the owned transport directly.
/// Everything it refuses is thrown as a `Failure`, which the session turns into a close code.
struct MessageAssembly {
    enum Failure: Error, Equatable {
        /// A client frame without a mask key.
        case unmasked
        /// RSV2/RSV3 set, or RSV1 without permessage-deflate or on a control or continuation frame.
        case reservedBits
        /// A continuation with nothing to continue, or a new message before the last one ended.
        case badFragmentation
        /// A fragmented or compressed message is over the limit (after inflating), or has too many fragments.
        case tooLarge
        /// RSV1 set but the payload is not valid DEFLATE data.
        case badCompressedData

        var closeCode: WebSocketErrorCode {
            switch self {
            case .unmasked, .reservedBits, .badFragmentation: .protocolError
            case .tooLarge: .messageTooLarge
            case .badCompressedData: .dataInconsistentWithMessage
            }
        }
    }

    private let maxMessageBytes: Int
    private let maxFragments: Int
    /// Set when permessage-deflate was agreed; called on the connection's loop when a compressed
    /// message arrives (the subscriber pipeline shares its loop's inflater).
    private let inflater: (() -> MessageInflater?)?
    /// The message being assembled from fragments.
    private var pending: (opcode: WebSocketOpcode, compressed: Bool, data: ByteBuffer, fragments: Int)?

    init(maxMessageBytes: Int, maxFragments: Int = 1024, inflater: (() -> MessageInflater?)?) {
        self.maxMessageBytes = maxMessageBytes
        self.maxFragments = maxFragments
        self.inflater = inflater
    }

    /// Takes the next frame: returns a whole message or a control frame to act on, or nil while a
    /// fragmented message is incomplete. After a failure the connection is closing; drop the value.
    mutating func assemble(_ frame: WebSocketFrame, allocator: ByteBufferAllocator) throws(Failure) -> WebSocketFrame? {
        guard frame.maskKey != nil else { throw .unmasked }
        guard !frame.rsv2, !frame.rsv3 else { throw .reservedBits }
        switch frame.opcode {
        case .ping, .pong, .connectionClose:
            guard !frame.rsv1 else { throw .reservedBits }
            return frame
        case .text, .binary:
            guard pending == nil else { throw .badFragmentation }
            guard !frame.rsv1 || inflater != nil else { throw .reservedBits }
            let data = frame.unmaskedData
            if frame.fin {
                // A whole uncompressed message passes at any size NIO's decoder allowed: the session
                // answers an oversized request with an error and keeps the connection.
                return try message(frame.opcode, compressed: frame.rsv1, data: data, allocator: allocator)
            }
            guard data.readableBytes <= maxMessageBytes else { throw .tooLarge }
            pending = (frame.opcode, frame.rsv1, data, 1)
            return nil
        case .continuation:
            guard var current = pending else { throw .badFragmentation }
            guard !frame.rsv1 else { throw .reservedBits }
            var data = frame.unmaskedData
            current.fragments += 1
            guard current.fragments <= maxFragments, current.data.readableBytes + data.readableBytes <= maxMessageBytes
            else {
                throw .tooLarge
            }
            pending = nil  // release our reference first, so the append does not copy
            current.data.writeBuffer(&data)
            if frame.fin {
                return try message(
                    current.opcode, compressed: current.compressed, data: current.data, allocator: allocator)
            }
            pending = current
            return nil
        default:
            throw .badFragmentation  // reserved opcodes are rejected by NIO's decoder before us
        }
    }

    private func message(
        _ opcode: WebSocketOpcode, compressed: Bool, data: ByteBuffer,
        allocator: ByteBufferAllocator
    ) throws(Failure) -> WebSocketFrame {
        var data = data
        if compressed {
            guard let inflater = inflater?() else { throw .badCompressedData }
            do {
                data = try inflater.inflate(data, limit: maxMessageBytes, allocator: allocator)
            } catch .tooLarge {
                throw .tooLarge
            } catch {
                throw .badCompressedData
            }
        }
        return WebSocketFrame(fin: true, opcode: opcode, data: data)
    }
}

/// `MessageAssembly` in a NIO pipeline: frames in from NIO's decoder, messages and control frames
/// on to the session, a failure raised as an error (the session closes with its code).
final class MessageAssembler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias Failure = MessageAssembly.Failure

    private var assembly: MessageAssembly?

    init(maxMessageBytes: Int, maxFragments: Int = 1024, inflater: (() -> MessageInflater?)?) {
        assembly = MessageAssembly(maxMessageBytes: maxMessageBytes, maxFragments: maxFragments, inflater: inflater)
    }

    init(_ framing: MessageFraming, inflater: LoopInflater) {
        assembly = framing.assembly(inflater: inflater)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard assembly != nil else { return }  // failed: the connection is closing
        let frame = unwrapInboundIn(data)
        do {
            if let message = try assembly!.assemble(frame, allocator: context.channel.allocator) {
                context.fireChannelRead(wrapInboundOut(message))
            }
        } catch {
            assembly = nil
            context.fireErrorCaught(error)
        }
    }
}
