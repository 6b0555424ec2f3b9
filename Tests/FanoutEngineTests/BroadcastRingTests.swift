@testable import FanoutEngine
import FeedModel
import Foundation
import NIOCore
import Testing
import Atomics

/// The payload of record `seq`: its length and every byte are derived from `seq`, so any torn or
/// misplaced read shows up as a mismatch.
func expectedPayload(seq: UInt64, maxLength: Int) -> [UInt8] {
    let length = Int((seq &* 2_654_435_761) % UInt64(maxLength + 1))
    return (0..<length).map { UInt8(truncatingIfNeeded: seq &+ UInt64($0) &* 31) }
}

@Suite struct BroadcastRingTests {
    let allocator = ByteBufferAllocator()

    /// A single-threaded reference model: records are kept in order with the positions a correct ring
    /// must give them; each receiver's outcome is predicted and compared after every step.
    @Test(arguments: [1024, 4096])
    func matchesReferenceModelUnderRandomInterleavings(capacity: Int) throws {
        let buffer = BroadcastBuffer(capacity: capacity)
        let transmitter = BroadcastTransmitter(buffer: buffer)
        let maxPayload = min(buffer.maxPayloadLength, 200)
        var receivers = (0..<3).map { _ in BroadcastReceiver(buffer: buffer) }

        struct ModelRecord {
            let start: UInt64
            let paddedFrom: UInt64
            let end: UInt64
            let seq: UInt64
        }
        var records: [ModelRecord] = []
        var modelTail: UInt64 = 0
        var modelCursors = [UInt64](repeating: 0, count: receivers.count)
        var generator = SeededGenerator(seed: UInt64(capacity))
        var seq: UInt64 = 0
        var laps = [UInt64](repeating: 0, count: receivers.count)

        for _ in 0..<20_000 {
            if generator.next() % 2 == 0 {
                seq += 1
                let payload = expectedPayload(seq: seq, maxLength: maxPayload)
                payload.withUnsafeBytes {
                    transmitter.transmit(RecordHeader(symbolID: UInt32(seq % 7), seq: seq), payload: $0)
                }
                let aligned = UInt64((RecordHeader.size + payload.count + 7) & ~7)
                var start = modelTail
                let toEnd = UInt64(capacity) - (start % UInt64(capacity))
                if toEnd < aligned { start += toEnd }
                records.append(ModelRecord(start: start, paddedFrom: modelTail, end: start + aligned, seq: seq))
                modelTail = start + aligned
                let positions = buffer.positionsForTesting
                #expect(positions.tail == modelTail && positions.tailIntent == modelTail && positions.latest == start)
            } else {
                let r = Int(generator.next() % UInt64(receivers.count))
                let outcome = receivers[r].receiveNext(allocator: allocator) { _ in true }
                let cursor = modelCursors[r]
                if cursor >= modelTail {
                    #expect(outcome == .empty)
                } else if cursor + UInt64(capacity) <= modelTail {
                    #expect(outcome == .lapped)
                    laps[r] += 1
                    modelCursors[r] = records.last!.start
                } else {
                    let record = try #require(records.last { $0.paddedFrom == cursor || $0.start == cursor })
                    guard case .record(let header, let payload?) = outcome else {
                        Issue.record("expected record \(record.seq), got \(outcome)")
                        return
                    }
                    #expect(header.seq == record.seq)
                    #expect(header.symbolID == UInt32(record.seq % 7))
                    #expect(Array(payload.readableBytesView) == expectedPayload(seq: record.seq, maxLength: maxPayload))
                    modelCursors[r] = record.end
                }
                #expect(receivers[r].lappedCount == laps[r])
            }
        }
        #expect(laps.reduce(0, +) > 0, "the test should exercise lapping")
    }

    @Test func newReceiverStartsAtTheTail() {
        let buffer = BroadcastBuffer(capacity: 1024)
        let transmitter = BroadcastTransmitter(buffer: buffer)
        transmitter.transmit(RecordHeader(symbolID: 1, seq: 1), payload: ByteBuffer(string: "old"))
        var receiver = BroadcastReceiver(buffer: buffer)
        #expect(receiver.receiveNext(allocator: allocator) { _ in true } == .empty)
        transmitter.transmit(RecordHeader(symbolID: 1, seq: 2), payload: ByteBuffer(string: "new"))
        #expect(
            receiver.receiveNext(allocator: allocator) { _ in true }
                == .record(RecordHeader(symbolID: 1, seq: 2), payload: ByteBuffer(string: "new")))
        #expect(receiver.lagBytes == 0)
    }

    @Test func declinedPayloadsAreNotCopiedButStillConsumed() {
        let buffer = BroadcastBuffer(capacity: 1024)
        let transmitter = BroadcastTransmitter(buffer: buffer)
        var receiver = BroadcastReceiver(buffer: buffer)
        transmitter.transmit(RecordHeader(symbolID: 9, seq: 1), payload: ByteBuffer(string: "skip me"))
        #expect(
            receiver.receiveNext(allocator: allocator) { _ in false }
                == .record(RecordHeader(symbolID: 9, seq: 1), payload: nil))
        #expect(receiver.receiveNext(allocator: allocator) { _ in true } == .empty)
    }

    /// One writer thread and several reader threads on a small ring, so readers are lapped while
    /// they copy. Every record a reader accepts must be intact and in order. Run under
    /// `swift test --sanitize=thread` in CI as well.
    /// Issue 13, defect 2: a padding word read while the writer laps the reader can hold any length.
    /// It must not be trusted (only padding that runs exactly to the end of the buffer is), and the
    /// read is validated where it started, not where a torn length moved it. The writer's lap is put
    /// exactly between the receiver's first check and its first read, where the real race tears it.
    @Test(arguments: [8, 64, 200, 1 << 20])
    func aPaddingWordTornByALapIsNeverTrusted(tornLength: Int) throws {
        let buffer = BroadcastBuffer(capacity: 1024)
        let transmitter = BroadcastTransmitter(buffer: buffer)
        var receiver = BroadcastReceiver(buffer: buffer)
        let payload = [UInt8](repeating: 7, count: 60)  // 96-byte records: 10 fit, then 64 bytes of padding
        func send(_ seq: UInt64) {
            payload.withUnsafeBytes { transmitter.transmit(RecordHeader(symbolID: 1, seq: seq), payload: $0) }
        }
        for seq: UInt64 in 1...10 { send(seq) }
        for seq: UInt64 in 1...10 {
            guard case .record(let header, _) = receiver.receiveNext(allocator: allocator, wantsPayload: { _ in true })
            else {
                Issue.record("record \(seq) not read")
                return
            }
            #expect(header.seq == seq)
        }
        send(11)  // padding at 960, record 11 at the start of the buffer
        #expect(buffer.positionsForTesting.tail == 1024 + 96)
        receiver.betweenCheckAndReadForTesting = {
            for seq: UInt64 in 12...25 { send(seq) }  // laps position 960
            // What a read torn by that lap may see at 960: a padding type with any length.
            buffer.storeWord(UInt64(tornLength) | UInt64(RecordHeader.paddingType) << 32, atByteOffset: 960)
        }
        #expect(receiver.receiveNext(allocator: allocator, wantsPayload: { _ in true }) == .lapped)
        receiver.betweenCheckAndReadForTesting = nil
        #expect(receiver.lappedCount == 1)
        // It goes on from the newest record, intact.
        guard
            case .record(let header, let bytes?) = receiver.receiveNext(
                allocator: allocator, wantsPayload: { _ in true })
        else {
            Issue.record("no record after the lap")
            return
        }
        #expect(header.seq == 25 && Array(bytes.readableBytesView) == payload)
    }

    @Test func concurrentReadersNeverAcceptATornRecord() async throws {
        let buffer = BroadcastBuffer(capacity: 4096)
        let maxPayload = 180
        let total: UInt64 = 200_000
        let done = ManagedAtomic<Bool>(false)
        // The writer starts once every reader is attached: under a busy test run the cooperative pool
        // may not start a reader task before a writer that did not wait had finished (and a reader
        // that attaches then starts at the end, with nothing to read).
        let attached = ManagedAtomic<Int>(0)

        let results = try await withThrowingTaskGroup(of: (received: Int, laps: UInt64, errors: Int).self) { group in
            for _ in 0..<3 {
                group.addTask {
                    var receiver = BroadcastReceiver(buffer: buffer)
                    attached.wrappingIncrement(ordering: .releasing)
                    let allocator = ByteBufferAllocator()
                    var lastSeq: UInt64 = 0
                    var received = 0
                    var errors = 0
                    while true {
                        let finished = done.load(ordering: .acquiring)
                        switch receiver.receiveNext(allocator: allocator, wantsPayload: { _ in true }) {
                        case .empty:
                            if finished { return (received, receiver.lappedCount, errors) }
                            await Task.yield()
                        case .lapped:
                            continue
                        case .record(let header, let payload):
                            received += 1
                            if header.seq <= lastSeq { errors += 1 }
                            lastSeq = header.seq
                            if Array(payload!.readableBytesView)
                                != expectedPayload(seq: header.seq, maxLength: maxPayload)
                            {
                                errors += 1
                            }
                        }
                    }
                }
            }
            let writer = Thread {
                let transmitter = BroadcastTransmitter(buffer: buffer)
                while attached.load(ordering: .acquiring) < 3 { Thread.sleep(forTimeInterval: 0.001) }
                for seq in 1...total {
                    expectedPayload(seq: seq, maxLength: maxPayload).withUnsafeBytes {
                        transmitter.transmit(RecordHeader(symbolID: 0, seq: seq), payload: $0)
                    }
                }
                done.store(true, ordering: .releasing)
            }
            writer.start()
            var all: [(received: Int, laps: UInt64, errors: Int)] = []
            for try await result in group { all.append(result) }
            return all
        }
        for result in results {
            #expect(result.errors == 0)
            #expect(result.received > 0)
        }
    }
}
