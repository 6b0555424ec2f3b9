#if canImport(Glibc)
import Glibc
#endif

/// The process's open-files limit. Every connection is a file descriptor, and the soft limit a
/// shell hands down is often 1,024, so the hub raises it to the hard limit at start (which needs no
/// privilege), and says so in its log: past the hard limit it cannot go, and `AcceptBackoff` takes
/// over when it is reached.
enum OpenFileLimit {
    struct Change: Equatable {
        var softBefore: UInt64
        var soft: UInt64
        var hard: UInt64
    }

    /// Raises the soft limit to the hard one; nil if the limit could not be read or set.
    static func raiseToHard() -> Change? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let before = UInt64(limit.rlim_cur)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        }
        return Change(softBefore: before, soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }
}
