import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Who may connect and publish (SECURITY.md): page origins, trusted proxies, the ingest token and
/// access tokens (JWT).
struct SecuritySettings: ParsableArguments {
    @Option(
        help:
            """
            A web page origin (scheme://host[:port]) allowed to open /ws and /ingest; repeat for several.\
             Handshakes from other origins get 403; without any, every origin is allowed. (env\
             TICKERHUB_ALLOWED_ORIGIN, comma-separated)
            """
    )
    var allowedOrigin: [String] = []

    @Option(
        help:
            """
            A load balancer in front of the hub (an address or a CIDR prefix); repeat for several. Connections\
             from it are counted for the client its X-Forwarded-For names. (env TICKERHUB_TRUSTED_PROXY,\
             comma-separated)
            """
    )
    var trustedProxy: [String] = []

    @Option(
        help:
            """
            The token a publisher must present to open /ingest (Authorization: Bearer, or ?token=). Required\
             with --feed ingest when --host is not a loopback address. (env TICKERHUB_INGEST_TOKEN)
            """
    )
    var ingestToken: String?

    @Option(
        help:
            """
            Turn auth on with this HMAC secret (HS256, at least 32 bytes): every WebSocket then needs an access\
             token (a JWT). Prefer the environment variable: arguments show in ps. (env TICKERHUB_AUTH_SECRET)
            """
    )
    var authSecret: String?

    @Option(
        help:
            """
            Turn auth on with this public key (a PEM file; RSA for RS256, P-256 for ES256): every WebSocket then\
             needs an access token (a JWT) signed by its private key. (env TICKERHUB_AUTH_PUBLIC_KEY)
            """
    )
    var authPublicKey: String?

    @Option(help: "With auth on, a token's \"aud\" claim must name this audience. (env TICKERHUB_AUTH_AUDIENCE)")
    var authAudience: String?

    @Option(help: "With auth on, a token's \"iss\" claim must be this issuer. (env TICKERHUB_AUTH_ISSUER)")
    var authIssuer: String?

    /// Reads this group's settings into `configuration`.
    func read(into configuration: inout HubConfiguration, from sources: inout SettingSources) throws {
        configuration.origins = OriginPolicy(
            allowed: sources.list(allowedOrigin, "allowed-origin"), listenerScheme: configuration.origins.listenerScheme
        )
        var proxies: [TrustedProxies.Prefix] = []
        for text in sources.list(trustedProxy, "trusted-proxy") {
            guard let prefix = TrustedProxies.Prefix(text) else {
                throw ValidationError(
                    "--trusted-proxy must be an IP address or a CIDR prefix such as 10.0.0.0/8, not \(text)")
            }
            proxies.append(prefix)
        }
        configuration.trustedProxies = TrustedProxies(prefixes: proxies)
        configuration.ingest.credential = IngestCredential(
            try sources.optional(ingestToken, "ingest-token", secret: true))
        configuration.auth = try readAuthentication(&sources)
    }

    /// This group's rules, which every configuration is held to (`HubConfiguration.validate`).
    static func check(_ configuration: HubConfiguration) throws(ConfigurationError) {
        for origin in configuration.origins.allowed where !OriginPolicy.isValid(origin) {
            throw ConfigurationError(
                "--allowed-origin must look like https://example.com or http://host:port, not \(origin)")
        }
        // /ingest is served where the admin endpoints are: the admin listener if there is one.
        let ingestHost = configuration.adminPort == nil ? configuration.host : configuration.adminHost
        try require(
            configuration.feed != .ingest || IngestCredential.isLoopback(ingestHost)
                || configuration.ingest.credential != nil
                || configuration.auth != nil,
            "--feed ingest on \(ingestHost) (beyond loopback) needs --ingest-token or auth (tokens with a publish"
                + " claim): anyone who reaches the port could publish prices")
    }

    /// The token verifier the auth settings describe, or nil when auth is off.
    private func readAuthentication(_ sources: inout SettingSources) throws -> TokenVerifier? {
        let authSecret = try sources.optional(authSecret, "auth-secret", secret: true)
        let authPublicKey = try sources.optional(authPublicKey, "auth-public-key")
        if authSecret != nil, authPublicKey != nil {
            throw ValidationError("give --auth-secret or --auth-public-key, not both")
        }
        if let authSecret, authSecret.utf8.count < 32 {
            throw ValidationError("--auth-secret must be at least 32 bytes (RFC 7518 §3.2: HS256 needs a 256-bit key)")
        }
        let authAudience = try sources.optional(authAudience, "auth-audience")
        let authIssuer = try sources.optional(authIssuer, "auth-issuer")
        guard let key = try Self.authKey(secret: authSecret, publicKeyPath: authPublicKey) else {
            if authAudience != nil || authIssuer != nil {
                throw ValidationError(
                    "--auth-audience and --auth-issuer need auth on (--auth-secret or --auth-public-key)")
            }
            return nil
        }
        do {
            return try TokenVerifier(key: key, audience: authAudience, issuer: authIssuer)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The token key the settings name, if any (the PEM file read).
    private static func authKey(secret: String?, publicKeyPath: String?) throws -> TokenVerifier.Key? {
        if let secret { return .hmacSecret(secret) }
        guard let publicKeyPath else { return nil }
        do {
            return .publicKeyPEM(try String(contentsOfFile: publicKeyPath, encoding: .utf8))
        } catch {
            throw ValidationError("cannot read --auth-public-key \(publicKeyPath): \(error)")
        }
    }
}
