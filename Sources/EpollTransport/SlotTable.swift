/// Connections in flat storage: one contiguous array of slots, reused through a free list, each
/// named by a `Key` that also carries the slot's generation.
///
/// Why a generation: the loop handles a batch of epoll events at a time, and within one batch a
/// connection can close and its slot be taken by a new one (an accept later in the batch); an event
/// of the old connection still in the batch names the slot, and must not reach the new one. So
/// every `remove` bumps the slot's generation, and a key whose generation is not the slot's finds
/// nothing.
///
/// Invariants (checked by `checkInvariants`, used by the tests): a slot is either occupied or on the
/// free list, never both; `count` is the number of occupied slots.
public struct SlotTable<Element> {
    public typealias Key = SlotKey

    private var elements: [Element?] = []
    private var generations: [UInt32] = []
    private var free: [UInt32] = []
    public private(set) var count = 0

    public init() {}

    /// Puts `element` in a free slot (the most recently freed: its memory is the warmest).
    public mutating func insert(_ element: Element) -> Key {
        count += 1
        if let index = free.popLast() {
            elements[Int(index)] = element
            return Key(index: index, generation: generations[Int(index)])
        }
        precondition(elements.count < Int(UInt32.max), "more slots than a key can name")
        elements.append(element)
        generations.append(0)
        return Key(index: UInt32(elements.count - 1), generation: 0)
    }

    /// The element of `key`, if that key's connection is still in its slot. Modify in place
    /// (`table[key]?.field = ...`) to avoid copying an element out and back.
    public subscript(key: Key) -> Element? {
        get { isCurrent(key) ? elements[Int(key.index)] : nil }
        set {
            guard isCurrent(key) else { return }
            precondition(newValue != nil, "remove(_:) empties a slot")
            elements[Int(key.index)] = newValue
        }
    }

    /// Empties the slot of `key` and returns what was in it; a stale key removes nothing.
    @discardableResult
    public mutating func remove(_ key: Key) -> Element? {
        guard isCurrent(key), let element = elements[Int(key.index)] else { return nil }
        elements[Int(key.index)] = nil
        generations[Int(key.index)] = (generations[Int(key.index)] &+ 1) & SlotKey.generationMask
        free.append(key.index)
        count -= 1
        return element
    }

    /// The keys of every occupied slot (for a sweep or a shutdown).
    public var keys: [Key] {
        elements.indices.compactMap { index in
            elements[index] == nil ? nil : Key(index: UInt32(index), generation: generations[index])
        }
    }

    private func isCurrent(_ key: Key) -> Bool {
        Int(key.index) < elements.count && generations[Int(key.index)] == key.generation
    }

    /// For tests: the free list and the occupied slots partition the table.
    public func checkInvariants() {
        let freeSet = Set(free)
        precondition(freeSet.count == free.count, "a slot is on the free list twice")
        for index in elements.indices {
            precondition(
                (elements[index] == nil) == freeSet.contains(UInt32(index)), "slot \(index) is both or neither")
        }
        precondition(count == elements.count - free.count, "count")
    }
}

/// A slot's index and generation, packed to fit an epoll registration's token (`EpollLoop.maxToken`).
public struct SlotKey: Hashable, Sendable {
    public let index: UInt32
    public let generation: UInt32

    /// The generation wraps at 24 bits (a slot reused 16 million times over while an event of its
    /// first occupant is still in flight cannot happen within one batch).
    static let generationMask: UInt32 = 1 << 24 - 1

    public init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation & Self.generationMask
    }

    public var token: UInt64 { UInt64(generation) << 32 | UInt64(index) }

    public init(token: UInt64) {
        self.init(index: UInt32(truncatingIfNeeded: token), generation: UInt32(truncatingIfNeeded: token >> 32))
    }
}
