#if canImport(Glibc)
import CMalloc
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The hub process's own CPU time and resident memory, for `/stats`, `/metrics` and the `/ops` page,
/// so an operator (or a benchmark) sees what the hub costs without reading `/proc` by hand.
struct ProcessUsage: Sendable {
    /// User plus system CPU time since the process started.
    var cpuMicroseconds: UInt64
    /// Resident set size now (Linux: `/proc/self/statm`); 0 where that is not available.
    var residentBytes: UInt64
    /// Bytes the process has allocated and not freed (glibc's `mallinfo2`: small blocks plus mmapped
    /// ones); 0 where that is not available. With `residentBytes`, it tells allocation from
    /// fragmentation and code.
    var heapBytes: UInt64

    static func current() -> ProcessUsage {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        let cpu = microseconds(usage.ru_utime) + microseconds(usage.ru_stime)
        #if canImport(Glibc)
        let heap = mallinfo2()
        let heapBytes = UInt64(heap.uordblks + heap.hblkhd)
        #else
        let heapBytes: UInt64 = 0
        #endif
        return ProcessUsage(cpuMicroseconds: cpu, residentBytes: residentBytesFromProc() ?? 0, heapBytes: heapBytes)
    }

    private static func microseconds(_ time: timeval) -> UInt64 {
        UInt64(max(0, time.tv_sec)) * 1_000_000 + UInt64(max(0, time.tv_usec))
    }

    /// `/proc/self/statm` is "size resident shared ..." in pages.
    private static func residentBytesFromProc() -> UInt64? {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let fields = bytes[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = UInt64(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
