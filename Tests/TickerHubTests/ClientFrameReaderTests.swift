import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import TickerHub

/// The owned transport's frame reader must cut a client's bytes exactly as NIO's
/// `WebSocketFrameDecoder` does, refusals included, so that sessions on either transport behave the
/// same (and the Autobahn cases mean the same for both). Checked differentially: random streams of
/// valid and invalid frames, delivered in random chunks, to both.
@Suite struct ClientFrameReaderTests {
    struct Outcome: Equatable {
        var frames: [WebSocketFrame] = []
        var error: NIOWebSocketError?
    }

    /// A frame's bytes, with choices that reach every rule: each length encoding (also non-minimal
    /// ones), masked or not, control frames long or fragmented, lengths over the limit.
    func randomFrame(_ random: inout SplitMix) -> [UInt8] {
        let opcode = UInt8(random.next() % 16)
        let fin = random.next() % 8 != 0
        let rsv = UInt8(random.next() % 8 == 0 ? random.next() % 8 : 0) << 4
        let length: Int =
            switch random.next() % 10 {
            case 0: 126 + Int(random.next() % 200)
            case 1: 1000 + Int(random.next() % 2000)  // over the limit below, sometimes
            default: Int(random.next() % 130)
            }
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
        let masked = random.next() % 5 != 0
        let encoding = length > 65535 ? 2 : length > 125 ? Int(1 + random.next() % 2) : Int(random.next() % 3)
        switch encoding {
        case 0: bytes.append((masked ? 0x80 : 0) | UInt8(length))
        case 1: bytes += [(masked ? 0x80 : 0) | 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        default:
            bytes +=
                [(masked ? 0x80 : 0) | 127]
                + (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(length) >> (8 * $0)) }
        }
        if masked { bytes += (0..<4).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        bytes += (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        return bytes
    }

    func viaNIO(_ chunks: [[UInt8]], maxFrameSize: Int) -> Outcome {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
        var outcome = Outcome()
        for chunk in chunks {
            do {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
            } catch {
                outcome.error = error as? NIOWebSocketError
            }
            // Frames ahead of a refused one in the same chunk were passed on before the error.
            while let frame = try? channel.readInbound(as: WebSocketFrame.self) { outcome.frames.append(frame) }
            if outcome.error != nil { break }
        }
        _ = try? channel.finish()
        return outcome
    }

    func viaReader(_ chunks: [[UInt8]], maxFrameSize: Int) -> Outcome {
        let reader = ClientFrameReader(maxFrameSize: maxFrameSize)
        var buffered = ByteBuffer()
        var outcome = Outcome()
        for chunk in chunks {
            buffered.writeBytes(chunk)
            do {
                while let frame = try reader.next(from: &buffered) { outcome.frames.append(frame) }
            } catch {
                outcome.error = error
                break
            }
        }
        return outcome
    }

    @Test func itCutsFramesAndRefusesThemExactlyAsNIOsDecoder() {
        var random = SplitMix(seed: 25)
        var refusals: [NIOWebSocketError: Int] = [:]
        var framesSeen = 0
        for _ in 0..<2000 {
            var stream: [UInt8] = []
            for _ in 0..<(1 + random.next() % 6) { stream += randomFrame(&random) }
            // Random cuts, down to single bytes: a header may arrive a byte at a time.
            var chunks: [[UInt8]] = []
            var at = 0
            while at < stream.count {
                let size = min(stream.count - at, 1 + Int(random.next() % (random.next() % 3 == 0 ? 4 : 600)))
                chunks.append(Array(stream[at..<(at + size)]))
                at += size
            }
            let nio = viaNIO(chunks, maxFrameSize: 1500)
            let ours = viaReader(chunks, maxFrameSize: 1500)
            #expect(ours == nio)
            if ours != nio { return }
            if let error = ours.error { refusals[error, default: 0] += 1 }
            framesSeen += ours.frames.count
        }
        // The random streams reach every refusal and plenty of good frames.
        #expect(refusals[.invalidFrameLength, default: 0] > 0)
        #expect(refusals[.fragmentedControlFrame, default: 0] > 0)
        #expect(refusals[.multiByteControlFrameLength, default: 0] > 0)
        #expect(framesSeen > 1000)
    }

    /// A 64-bit length with its top bit set is refused as too long, from the header alone.
    @Test func aHugeLengthIsRefusedFromTheHeader() {
        var bytes = ByteBuffer(bytes: [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0])
        #expect(throws: NIOWebSocketError.invalidFrameLength) {
            try ClientFrameReader(maxFrameSize: 65536).next(from: &bytes)
        }
    }
}

/// A small deterministic generator for the tests (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
