import FeedModel
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

@testable import TickerHub

/// Property-based fuzzing of what a client controls before any session code runs: the
/// permessage-deflate offer and the frames the message assembler puts together. A seed corpus of
/// real inputs is mutated by a seeded generator (so a failure names its seed and replays), and every
/// input must leave the parser in a state its invariants allow: no crash, no agreement outside the
/// spec, no message past the limit, nothing after a failure. (The client-message parser has its own
/// mutation loop in FeedModelTests.)
struct InputFuzzTests {
    static let offerCorpus = [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10, permessage-deflate",
        "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15",
        "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=\"12\"",
        "permessage-deflate;server_no_context_takeover;server_no_context_takeover",
    ]
    static let offerAlphabet = Array(";,= \"\t_-0123456789abcdefgpermsoxwinkt".utf8)

    /// One mutation: a byte inserted, deleted or replaced, or a slice of another seed spliced in.
    static func mutate(_ bytes: [UInt8], using generator: inout SeededGenerator, alphabet: [UInt8], corpus: [[UInt8]])
        -> [UInt8]
    {
        var bytes = bytes
        for _ in 0..<Int(generator.next() % 4) + 1 {
            let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count + 1))
            switch generator.next() % 4 {
            case 0: bytes.insert(alphabet[Int(generator.next() % UInt64(alphabet.count))], at: position)
            case 1: if position < bytes.count { bytes.remove(at: position) }
            case 2:
                if position < bytes.count { bytes[position] = alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            default:
                let other = corpus[Int(generator.next() % UInt64(corpus.count))]
                let start = Int(generator.next() % UInt64(other.count))
                bytes.insert(contentsOf: other[start..<min(other.count, start + 12)], at: position)
            }
        }
        return bytes
    }

    @Test(arguments: PerMessageDeflateNegotiation.Mode.allCases)
    func extensionOffersNeverYieldAnAgreementOutsideTheSpec(_ mode: PerMessageDeflateNegotiation.Mode) {
        let negotiation = PerMessageDeflateNegotiation(mode: mode)
        let corpus = Self.offerCorpus.map { Array($0.utf8) }
        var generator = SeededGenerator(seed: 0xF022_0001)
        var agreements = 0
        for _ in 0..<20_000 {
            var lines: [String] = []
            for _ in 0..<Int(generator.next() % 3) + 1 {
                let seed = corpus[Int(generator.next() % UInt64(corpus.count))]
                lines.append(
                    String(
                        decoding: Self.mutate(seed, using: &generator, alphabet: Self.offerAlphabet, corpus: corpus),
                        as: UTF8.self))
            }
            guard let agreement = negotiation.negotiate(lines) else { continue }
            agreements += 1
            #expect(mode != .off)
            #expect((9...15).contains(agreement.serverWindowBits), "\(lines)")
            #expect(agreement.responseHeader.hasPrefix("permessage-deflate"), "\(lines)")
            if mode == .shared { #expect(agreement.usesSharedFrames, "\(lines)") }
            // The answer is itself a valid offer that the same negotiation accepts as it is.
            #expect(negotiation.negotiate([agreement.responseHeader]) != nil, "\(agreement.responseHeader)")
        }
        // The mutations must reach both answers, or the loop tests nothing.
        #expect(mode == .off ? agreements == 0 : (1_000..<19_000).contains(agreements), "\(agreements) agreements")
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func framesInAnyOrderNeverPassTheLimitOrAnythingAfterAFailure(seed: UInt64) throws {
        var generator = SeededGenerator(seed: 0xF022_0100 + seed)
        let limit = 1024
        var (delivered, failures) = (0, 0)
        for _ in 0..<300 {
            let channel = EmbeddedChannel(
                handler: MessageAssembler(maxMessageBytes: limit, maxFragments: 8, inflater: nil))
            var failedAt: Int?
            for index in 0..<Int(generator.next() % 12) + 1 {
                let opcodes: [WebSocketOpcode] = [
                    .text, .binary, .continuation, .continuation, .ping, .pong, .connectionClose,
                ]
                let opcode = opcodes[Int(generator.next() % UInt64(opcodes.count))]
                let size = Int(generator.next() % 700)
                let payload = ByteBuffer(bytes: (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
                let masked = generator.next() % 16 != 0
                var frame = WebSocketFrame(
                    fin: generator.next() % 3 != 0, rsv1: generator.next() % 8 == 0,
                    rsv2: generator.next() % 32 == 0, opcode: opcode,
                    maskKey: masked ? WebSocketMaskingKey([1, 2, 3, 4]) : nil, data: payload)
                if opcode.isControl { frame.fin = true }
                do {
                    try channel.writeInbound(frame)
                } catch {
                    #expect(error is MessageAssembler.Failure, "\(error)")
                    if failedAt == nil {
                        failedAt = index
                        failures += 1
                    }
                }
                while let message = try channel.readInbound(as: WebSocketFrame.self) {
                    #expect(failedAt == nil, "nothing is delivered after a failure")
                    #expect(message.fin && message.opcode != .continuation)
                    #expect(message.opcode.isControl || message.unmaskedData.readableBytes <= limit)
                    delivered += 1
                }
            }
            _ = try? channel.finish()
        }
        #expect(delivered > 100 && failures > 50, "\(delivered) delivered, \(failures) failures")
    }
}

extension WebSocketOpcode {
    fileprivate var isControl: Bool { self == .ping || self == .pong || self == .connectionClose }
}
