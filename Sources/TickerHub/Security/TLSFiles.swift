import NIOCore
import NIOSSL

/// The certificate chain and private key (PEM files, `--tls-cert` and `--tls-key`) the listeners
/// serve TLS with: `wss://` and `https://`, through swift-nio-ssl (BoringSSL). Read once at start-up
/// into one `NIOSSLContext` that every connection shares, so a bad file stops the hub at once.
///
/// TLS is the one per-connection cost the fan-out cannot share: each message is still encoded and
/// compressed once, but encrypted once per connection, and each session holds its own TLS state.
struct TLSFiles: Sendable {
    let certificatePath: String
    let privateKeyPath: String
    let context: NIOSSLContext

    init(certificatePath: String, privateKeyPath: String) throws {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        // HTTP/1.1 only: a browser must not pick h2, whose WebSocket (RFC 8441) this hub does not speak.
        configuration.applicationProtocols = ["http/1.1"]
        context = try NIOSSLContext(configuration: configuration)
    }

    /// The handler that goes first in each accepted connection's pipeline.
    func makeHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: context)
    }
}
