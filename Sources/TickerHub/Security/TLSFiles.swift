import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// The certificate chain and private key (PEM files, `--tls-cert` and `--tls-key`) the listeners
/// serve TLS with: `wss://` and `https://`, through swift-nio-ssl (BoringSSL). Read at start-up
/// into one `NIOSSLContext` that every connection shares, so a bad file stops the hub at once; and
/// read again on SIGHUP (`TLSReload`), so a renewed certificate is served without a restart: new
/// connections get it, connections already open keep theirs. A reload that fails (a half-written
/// file, a key that does not match) is logged and the current context stays.
///
/// TLS is the one per-connection cost the fan-out cannot share: each message is still encoded and
/// compressed once, but encrypted once per connection, and each session holds its own TLS state.
struct TLSFiles: Sendable {
    let certificatePath: String
    let privateKeyPath: String
    /// Shared by every copy of this value (a reference): the context new connections get.
    private let current: NIOLockedValueBox<NIOSSLContext>

    init(certificatePath: String, privateKeyPath: String) throws {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        current = NIOLockedValueBox(try Self.context(certificatePath: certificatePath, privateKeyPath: privateKeyPath))
    }

    /// Reads the files again and serves them to every new connection from now on; throws (and
    /// keeps the current ones) if they cannot be used.
    func reload() throws {
        let fresh = try Self.context(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        current.withLockedValue { $0 = fresh }
    }

    /// TLS 1.2's suites: ECDHE key exchange (forward secrecy) with AEAD ciphers only, as Mozilla's
    /// "intermediate" profile has it; no static-RSA key exchange and no CBC. (TLS 1.3's suites are
    /// all of that kind already and are not set by this list.)
    static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    private static func context(certificatePath: String, privateKeyPath: String) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = tls12CipherSuites
        // HTTP/1.1 only: a browser must not pick h2, whose WebSocket (RFC 8441) this hub does not speak.
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// The handler that goes first in each accepted connection's pipeline.
    func makeHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: current.withLockedValue { $0 })
    }
}

/// Reloads the TLS files on SIGHUP (`kill -HUP`, or `systemctl reload`): what certificate renewal
/// (certbot's deploy hook, cert-manager) does after it writes new files.
struct TLSReload: Service {
    let files: TLSFiles
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                try files.reload()
                logger.notice("TLS certificate and key reloaded", metadata: ["cert": "\(files.certificatePath)"])
            } catch {
                logger.error(
                    "TLS reload failed; still serving the previous certificate", metadata: ["error": "\(error)"])
            }
        }
    }
}
