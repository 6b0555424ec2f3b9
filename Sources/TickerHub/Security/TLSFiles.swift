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
        configuration.cipherSuites = Self.tls12CipherSuites
        // HTTP/1.1 only: a browser must not pick h2, whose WebSocket (RFC 8441) this hub does not speak.
        configuration.applicationProtocols = ["http/1.1"]
        context = try NIOSSLContext(configuration: configuration)
    }

    /// TLS 1.2's suites: ECDHE key exchange (forward secrecy) with AEAD ciphers only, as Mozilla's
    /// "intermediate" profile has it; no static-RSA key exchange and no CBC. (TLS 1.3's suites are
    /// all of that kind already and are not set by this list.)
    static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// The handler that goes first in each accepted connection's pipeline.
    func makeHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: context)
    }
}
