/// A hash index from keys to slots that stores no key: open addressing with linear probing over
/// 8-byte buckets, each holding a slot and 32 bits of its key's hash; the keys themselves stay
/// where the slots point (``TaskTable``'s records), and a look-up compares them there.
///
/// A `Dictionary<TaskKey, Int32>` holds a second copy of every key (24 bytes a bucket, plus the
/// room it keeps free); this holds 8 bytes a bucket, between 3/8 and 3/4 of them used. Removal
/// shifts the entries after it back (no tombstones), so a look-up never scans more than the run
/// its hash falls in.
struct SlotIndex: Sendable {
    /// Zero when empty; otherwise the hash's low 32 bits above the slot plus one.
    private var buckets: [UInt64] = []
    /// Slots indexed.
    private(set) var count = 0

    init() {}

    /// The room taken, in buckets (a power of two, or zero).
    var capacity: Int { buckets.count }

    /// The slot whose key has `hash` and for which `matches` is true, if any.
    func find(hash: Int, matches: (Int32) -> Bool) -> Int32? {
        guard !buckets.isEmpty else { return nil }
        let fragment = UInt64(UInt32(truncatingIfNeeded: hash))
        let mask = buckets.count - 1
        var position = Int(fragment) & mask
        while true {
            let bucket = buckets[position]
            if bucket == 0 { return nil }
            if bucket >> 32 == fragment {
                let slot = Int32(truncatingIfNeeded: bucket & 0xFFFF_FFFF) - 1
                if matches(slot) { return slot }
            }
            position = (position + 1) & mask
        }
    }

    /// Indexes `slot` under `hash`; the caller knows its key is not indexed yet.
    mutating func insert(_ slot: Int32, hash: Int) {
        precondition(slot >= 0 && slot < Int32.max, "slot \(slot) out of range")
        if (count + 1) * 4 > buckets.count * 3 { resize(to: max(16, buckets.count * 2)) }
        place((UInt64(UInt32(truncatingIfNeeded: hash)) << 32) | UInt64(slot + 1))
        count += 1
    }

    /// Grows the table at once to the size `count` slots need (rather than in doublings as they come).
    mutating func reserveCapacity(_ count: Int) {
        var capacity = max(16, buckets.count)
        while count * 4 > capacity * 3 { capacity *= 2 }
        if capacity > buckets.count { resize(to: capacity) }
    }

    /// Removes `slot`, indexed under `hash`; false when it was not there.
    @discardableResult
    mutating func remove(_ slot: Int32, hash: Int) -> Bool {
        guard !buckets.isEmpty else { return false }
        let entry = (UInt64(UInt32(truncatingIfNeeded: hash)) << 32) | UInt64(slot + 1)
        let mask = buckets.count - 1
        var hole = Int(entry >> 32) & mask
        while buckets[hole] != entry {
            if buckets[hole] == 0 { return false }
            hole = (hole + 1) & mask
        }
        // Backward shift: move each later entry of the run into the hole when its home position
        // does not lie (cyclically) after the hole.
        var next = (hole + 1) & mask
        while buckets[next] != 0 {
            let home = Int(buckets[next] >> 32) & mask
            if (next - home) & mask >= (next - hole) & mask {
                buckets[hole] = buckets[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        buckets[hole] = 0
        count -= 1
        if count == 0 { buckets = [] }  // give the room back once every task is forgotten
        return true
    }

    private mutating func place(_ entry: UInt64) {
        let mask = buckets.count - 1
        var position = Int(entry >> 32) & mask
        while buckets[position] != 0 { position = (position + 1) & mask }
        buckets[position] = entry
    }

    private mutating func resize(to newCapacity: Int) {
        let old = buckets
        buckets = Array(repeating: 0, count: newCapacity)
        for entry in old where entry != 0 { place(entry) }
    }

    /// Every indexed slot, in no particular order.
    var slots: [Int32] {
        buckets.lazy.filter { $0 != 0 }.map { Int32(truncatingIfNeeded: $0 & 0xFFFF_FFFF) - 1 }
    }

    /// Whether every entry can be found from its home position (no empty bucket between), and the
    /// count agrees: the index's own invariant, for tests and ``TaskTable/checkSlots()``.
    var isValid: Bool {
        guard !buckets.isEmpty else { return count == 0 }
        let mask = buckets.count - 1
        var used = 0
        for (position, entry) in buckets.enumerated() where entry != 0 {
            used += 1
            var probe = Int(entry >> 32) & mask
            while probe != position {
                if buckets[probe] == 0 { return false }
                probe = (probe + 1) & mask
            }
        }
        return used == count && count * 4 <= buckets.count * 3
    }
}
