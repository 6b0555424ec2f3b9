import EpollTransport
import FanoutEngine
import NIOCore
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket connection on the owned transport: a socket on an `EpollLoop`, taken over from NIO
/// after the handshake (`OwnedConnections.adopt`), carrying a session (`ConnectionSession`: a
/// subscriber's, or the echo listener's). It is the session's `WebSocketConnection` and its
/// `FrameSink` at once, so a delivery goes from the fan-out to `send(2)` with no pipeline in between.
///
/// - Writing: `SocketOutput`. A frame written while nothing is owed is kept as it is (`staged`) and
///   sent with one `send` at `flush`, touching no queue; the rest queue in the output. Writability
///   follows NIO's rule with the hub's water marks: unwritable above `--max-backlog-bytes`, writable
///   again below `--backlog-resume-bytes`.
/// - Reading: edge-triggered, so every readiness is read until the socket has no more, or until the
///   session holds reads (`ReadGate`); `resumeReading` reads what waited. Bytes become frames in
///   `ClientFrameReader`, messages in `MessageAssembly`, as NIO's decoder and `MessageAssembler` do.
/// - Closing: the Close frame queues behind the backlog; once it is written the sending half is
///   shut, and the socket closes when the peer closes its side, on an error, or after the grace.
///
/// Confined to its loop. Teardown never runs inside a write: a write that fails marks the connection
/// broken and closes it in a task of its own, since the fan-out may be iterating its subscribers.
final class OwnedWebSocketConnection: WebSocketConnection, FrameSink {
    private enum State {
        case open
        /// Our Close is queued; the sending half is shut once the output drains.
        case closing
        /// A write failed: nothing more is written, and the teardown is queued.
        case broken
        case closed
    }

    let descriptor: CInt
    /// Its slot in the table, and its epoll token; set by the table as it takes the connection in.
    var key = SlotKey(index: 0, generation: 0)
    /// The loop's table: it outlives its connections. Not read per write (an `unowned` load is a
    /// checked retain): the water marks are copied here.
    private unowned let table: OwnedConnections
    private let highWaterMark: Int
    private let lowWaterMark: Int
    let remoteAddress: SocketAddress?
    private var state = State.open
    private var output = SocketOutput()
    /// A frame written while nothing was owed, not yet flushed.
    private var staged: ByteBuffer?
    /// Bytes of a frame not yet whole.
    private var unread: ByteBuffer?
    private let reader: ClientFrameReader
    /// nil after a framing error: the connection is closing, and what still arrives is discarded.
    private var assembly: MessageAssembly?
    private var session: (any ConnectionSession)?
    private var subscriber: Subscriber?
    private var writable = true
    /// Reading now: a `resumeReading` from inside it only asks for another pass, so bytes are never
    /// handed on out of order.
    private var reading = false
    private var readAgain = false
    /// Its place in the connection limits, given back at close.
    private let place: ConnectionPlace?

    init(
        descriptor: CInt, table: OwnedConnections, remoteAddress: SocketAddress?,
        reader: ClientFrameReader, assembly: MessageAssembly, place: ConnectionPlace?
    ) {
        self.descriptor = descriptor
        self.table = table
        highWaterMark = table.highWaterMark
        lowWaterMark = table.lowWaterMark
        self.remoteAddress = remoteAddress
        self.reader = reader
        self.assembly = assembly
        self.place = place
    }

    /// Starts the session, then handles the bytes NIO read behind the handshake and whatever the
    /// socket holds.
    func start(session: any ConnectionSession, unread bytes: ByteBuffer?) {
        self.session = session
        session.start()
        if let bytes, bytes.readableBytes > 0 { consume(bytes) }
        readAvailable()
    }

    // MARK: Events from the loop

    func ready(_ events: EpollEvents) {
        if events.contains(.writable), events.isDisjoint(with: [.error, .hangUp]) { flushOwed() }
        // Read before acting on a hang-up: the peer's last bytes (its Close, say) say why it went.
        if !events.isDisjoint(with: [.readable, .peerClosed]) { readAvailable() }
        if !events.isDisjoint(with: [.error, .hangUp]) { close() }
    }

    // MARK: FrameSink, for the fan-out and the session

    func attach(_ subscriber: Subscriber) {
        self.subscriber = subscriber
        subscriber.isWritable = writable
    }

    func write(_ frames: ByteBuffer) {
        guard state == .open || state == .closing else { return }
        if staged == nil, output.isEmpty {
            staged = frames
        } else {
            if let first = staged {
                staged = nil
                output.append(first)
            }
            output.append(frames)
        }
        if writable, backlogBytes > highWaterMark { writabilityBecame(false) }
    }

    func flush() {
        guard state == .open || state == .closing else { return }
        let outcome: WriteOutcome
        if let frames = staged {
            staged = nil
            outcome = output.write(frames, to: descriptor)
        } else if !output.isEmpty {
            outcome = output.write(to: descriptor)
        } else {
            return
        }
        wrote(outcome)
    }

    var connectionIsWritable: Bool { (state == .open || state == .closing) && writable }

    // MARK: WebSocketConnection, for the session

    var eventLoop: any EventLoop { table.loop }
    var allocator: ByteBufferAllocator { table.allocator }
    var backlogBytes: Int { output.byteCount + (staged?.readableBytes ?? 0) }
    var isWritable: Bool { writable }

    func writeControl(_ opcode: WebSocketOpcode, payload: ByteBuffer) {
        write(Self.controlFrame(opcode, payload: payload, allocator: allocator))
    }

    /// A control frame (RFC 6455 §5.5): unmasked, final, and at most 125 bytes of payload (a pong
    /// echoes a ping, which the reader limits to that; a Close reason is cut to fit), so a 2-byte header.
    static func controlFrame(_ opcode: WebSocketOpcode, payload: ByteBuffer, allocator: ByteBufferAllocator)
        -> ByteBuffer
    {
        var payload = payload
        let length = min(payload.readableBytes, 125)
        var frame = allocator.buffer(capacity: 2 + length)
        frame.writeInteger(0x80 | UInt8(webSocketOpcode: opcode))
        frame.writeInteger(UInt8(length))
        if var body = payload.readSlice(length: length) { frame.writeBuffer(&body) }
        return frame
    }

    func resumeReading() { readAvailable() }

    func sendClose(_ closeFrame: ByteBuffer, grace: TimeAmount) {
        guard state == .open else { return }
        writeControl(.connectionClose, payload: closeFrame)
        state = .closing
        flush()
        if state == .closing, backlogBytes == 0 { shutdown(descriptor, CInt(SHUT_WR)) }
        table.closeAfter(grace, key)
    }

    // MARK: Writing

    /// The socket drained some: send what is owed.
    private func flushOwed() {
        guard state == .open || state == .closing, !output.isEmpty else { return }
        wrote(output.write(to: descriptor))
    }

    private func wrote(_ outcome: WriteOutcome) {
        switch outcome {
        case .drained:
            if state == .closing { shutdown(descriptor, CInt(SHUT_WR)) }
        case .blocked:
            break  // `writable` comes from epoll once the socket drains (edge-triggered: it was full)
        case .failed:
            state = .broken
            output.removeAll()
            table.closeSoon(key)
            return
        }
        if !writable, backlogBytes < lowWaterMark { writabilityBecame(true) }
    }

    private func writabilityBecame(_ isWritable: Bool) {
        writable = isWritable
        subscriber?.isWritable = isWritable
        session?.writabilityChanged()
    }

    // MARK: Reading

    /// Reads until the socket has nothing more, the session holds reads, or the connection ends;
    /// a loop pass takes at most `OwnedConnections.readsPerPass` buffers, and asks for another pass
    /// if there may be more (edge-triggered: epoll would not say so again).
    private func readAvailable() {
        guard !reading else {
            readAgain = true
            return
        }
        reading = true
        defer { reading = false }
        var passes = 0
        repeat {
            readAgain = false
            while state != .closed, state != .broken {
                if let session, !session.mayRead() { break }
                if passes == OwnedConnections.readsPerPass {
                    table.readSoon(key)
                    break
                }
                passes += 1
                var bytes = table.borrowReadBuffer()
                bytes.clear()
                var (result, asked) = (0, 0)
                bytes.writeWithUnsafeMutableBytes(minimumWritableBytes: OwnedConnections.readBufferBytes) { buffer in
                    asked = buffer.count
                    result = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
                    return max(result, 0)
                }
                if result > 0 {
                    consume(bytes)
                    table.returnReadBuffer(bytes)
                    if result < asked { break }  // the socket had less than a buffer: it is empty now
                } else if result == 0 {
                    close()  // the peer closed its side: after its Close, or gone
                    return
                } else {
                    let error = errno
                    if error == EINTR { continue }
                    if error != EAGAIN, error != EWOULDBLOCK { close() }
                    break
                }
            }
        } while readAgain && state != .closed
        if state != .closed { session?.readBurstEnded() }
    }

    /// Frames out of `received` (after what waited from the last read), each to the session.
    private func consume(_ received: ByteBuffer) {
        guard assembly != nil else { return }  // a framing error: discard until the close
        var bytes = received
        // Whether `bytes` is a buffer of this connection's own, not the loop's shared read buffer.
        var owned = false
        if var pending = unread {
            unread = nil
            pending.writeBuffer(&bytes)
            bytes = pending
            owned = true
        }
        do {
            while let frame = try reader.next(from: &bytes) {
                if let message = try assembly!.assemble(frame, allocator: allocator) {
                    session?.received(message)
                }
                guard state == .open || state == .closing, assembly != nil else { return }
            }
        } catch {
            assembly = nil
            session?.violation(code: CloseHandshake.closeCode(for: error) ?? .protocolError, reason: "\(error)")
            return
        }
        guard bytes.readableBytes > 0 else { return }
        if owned {
            // Kept, and appended to: a large frame arriving in many reads is copied once per read,
            // not once per read for all that came before it. The frames already taken are let go
            // (a memmove of what is left, at most a frame), or a peer whose reads always end inside
            // a frame would grow the buffer without end.
            if bytes.readerIndex > 0 { bytes.discardReadBytes() }
            unread = bytes
        } else {
            // The shared read buffer is reused at once: keep the partial frame in a buffer of its own.
            var rest = allocator.buffer(capacity: bytes.readableBytes)
            rest.writeBuffer(&bytes)
            unread = rest
        }
    }

    // MARK: Closing

    /// Ends the connection now: the socket closes (which removes it from epoll), the session ends,
    /// and the slot and the limits' place are given back.
    func close() {
        guard state != .closed else { return }
        state = .closed
        Glibc.close(descriptor)
        output.removeAll()
        staged = nil
        unread = nil
        subscriber?.isWritable = false
        subscriber = nil
        session?.end()
        session = nil
        place?.release()
        table.removed(key)
    }

    /// The hub's events, for the session.
    func handle(_ event: any HubEvent) {
        session?.handle(event)
    }
}
