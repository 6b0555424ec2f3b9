import Glibc

/// A connected loopback TCP pair for the tests: `served` is written, `peer` read.
struct LoopbackPair {
    let served: CInt
    let peer: CInt

    /// `peerReceiveBuffer`: a tiny receive buffer makes the served end fill after a few KiB, so
    /// partial writes come quickly.
    init(peerReceiveBuffer: CInt? = nil, servedSendBuffer: CInt? = nil) {
        let listener = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                precondition(bind(listener, generic, length) == 0 && listen(listener, 16) == 0)
                precondition(getsockname(listener, generic, &length) == 0)
            }
        }
        let peer = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        if var size = peerReceiveBuffer {
            setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(peer, $0, length) }
        }
        precondition(connected == 0)
        let served = accept(listener, nil, nil)
        precondition(served >= 0)
        close(listener)
        if var size = servedSendBuffer {
            setsockopt(served, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        _ = fcntl(served, F_SETFL, fcntl(served, F_GETFL) | O_NONBLOCK)
        _ = fcntl(peer, F_SETFL, fcntl(peer, F_GETFL) | O_NONBLOCK)
        self.served = served
        self.peer = peer
    }

    /// Everything the peer can read now.
    func readPeer() -> [UInt8] {
        var bytes: [UInt8] = []
        var scratch = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = scratch.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, CInt(MSG_DONTWAIT)) }
            if got <= 0 { return bytes }
            bytes += scratch[0..<got]
        }
    }

    /// Ends the peer with a reset (SO_LINGER 0), so the served end's next writes fail.
    func resetPeer() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(peer, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(peer)
    }

    func closeBoth() {
        close(served)
        close(peer)
    }
}
