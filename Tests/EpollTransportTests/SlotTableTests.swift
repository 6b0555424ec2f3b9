import EpollTransport
import Testing

@Suite struct SlotTableTests {
    @Test func aStaleKeyFindsNothingAfterItsSlotIsReused() {
        var table = SlotTable<String>()
        let first = table.insert("A")
        #expect(table.remove(first) == "A")
        let second = table.insert("B")
        #expect(second.index == first.index, "the freed slot is reused")
        #expect(second.generation != first.generation)
        #expect(table[first] == nil)
        #expect(table.remove(first) == nil)
        #expect(table[second] == "B")
        #expect(SlotTable<String>.Key(token: second.token) == second)
    }

    /// Random inserts, removes and edits against a dictionary model; stale keys must never hit.
    @Test func itAgreesWithAModelUnderRandomChurn() {
        var table = SlotTable<Int>()
        var model: [SlotTable<Int>.Key: Int] = [:]
        var live: [SlotTable<Int>.Key] = []  // the model's keys in a fixed order, so runs repeat
        var stale: [SlotTable<Int>.Key] = []
        var random = SeededGenerator(seed: 7)
        for step in 0..<20_000 {
            switch random.next() % 4 {
            case 0, 1:
                let key = table.insert(step)
                #expect(model[key] == nil)
                model[key] = step
                live.append(key)
            case 2:
                guard !live.isEmpty else { continue }
                let key = live.remove(at: Int(random.next() % UInt64(live.count)))
                #expect(table.remove(key) == model.removeValue(forKey: key))
                stale.append(key)
            default:
                guard !live.isEmpty else { continue }
                let key = live[Int(random.next() % UInt64(live.count))]
                table[key]? += 1
                model[key]! += 1
            }
            if !stale.isEmpty {
                let key = stale[Int(random.next() % UInt64(stale.count))]
                #expect(table[key] == nil)
            }
        }
        table.checkInvariants()
        #expect(table.count == model.count)
        for (key, value) in model { #expect(table[key] == value) }
        #expect(Set(table.keys) == Set(model.keys))
    }
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
