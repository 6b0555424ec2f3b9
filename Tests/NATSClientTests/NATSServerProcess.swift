import Foundation

/// A real `nats-server` (apt `nats-server`) on a free loopback port, for one test; optionally one of
/// a cluster, with routes to the others.
final class NATSServerProcess {
    let port: Int
    let clusterPort: Int
    private let process = Process()
    private let log: URL

    var url: String { "nats://127.0.0.1:\(port)" }

    /// `routes`: the cluster ports of the other members (empty: no cluster).
    init(name: String = "n", clusterPort: Int? = nil, routes: [Int] = [], port: Int? = nil) throws {
        self.port = try port ?? Self.freePort()
        self.clusterPort = try clusterPort ?? Self.freePort()
        log = FileManager.default.temporaryDirectory.appendingPathComponent("nats-\(name)-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        var arguments = ["-a", "127.0.0.1", "-p", "\(self.port)", "-n", name, "-l", log.path]
        if clusterPort != nil || !routes.isEmpty {
            arguments += [
                "--cluster_name", "tickerhub-test", "--cluster", "nats://127.0.0.1:\(self.clusterPort)",
                "--routes", routes.map { "nats://127.0.0.1:\($0)" }.joined(separator: ","),
            ]
        }
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        try waitUntilListening()
    }

    static func binary() throws -> String {
        for path in ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        throw NSError(
            domain: "nats-server is not installed (scripts/bootstrap.sh test installs it: apt nats-server)", code: 1)
    }

    private func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? String(contentsOf: log, encoding: .utf8))?.contains("Server is ready") == true { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw NSError(
            domain: "nats-server did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")", code: 2)
    }

    /// The server's log, to wait for cluster routes.
    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func waitForRoutes(_ count: Int) throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if logText.components(separatedBy: "Route connection created").count - 1 >= count { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw NSError(domain: "no cluster routes: \(logText)", code: 3)
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: log)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw NSError(domain: "no free port", code: 4) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
