import NIOSSL

/// The TLS settings of feedsim's `wss://` connections: the system's trusted roots, or the CA
/// certificates in `--ca-file` (PEM), as a test or private deployment signs its own hub certificate.
/// One context for every connection of a run; each connection checks the hub's name against it.
enum ClientTLS {
    static func context(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            configuration.trustRoots = .file(caFile)
        }
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// The handler for a connection to `url`: SNI and the name check use its host, unless that is
    /// an IP address (SNI may not carry one; the certificate's IP entries are checked instead).
    static func handler(for url: WebSocketURL, context: NIOSSLContext) throws -> NIOSSLClientHandler {
        let isAddress =
            url.host.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
            && url.host.contains { $0 == "." || $0 == ":" }
        return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : url.host)
    }
}
