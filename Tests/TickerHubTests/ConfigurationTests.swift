import FeedModel
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import Testing
@testable import TickerHub
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The hub's configuration from flags, an environment and a config file, resolved as `tickerhub`
/// does (`SettingSources`), but with an environment of the test's own.
private func resolvedConfiguration(
    _ arguments: [String], environment: [String: String] = [:], file: String? = nil,
    fileExtension: String = "yaml"
) async throws -> (HubConfiguration, SettingSources) {
    var path: String?
    if let file {
        path =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "tickerhub-\(UUID().uuidString).\(fileExtension)"
            ).path
        try file.write(toFile: path!, atomically: true, encoding: .utf8)
    }
    defer { if let path { try? FileManager.default.removeItem(atPath: path) } }
    var sources = try await SettingSources.load(configPath: path, environment: environment)
    let configuration = try TickerHubCommand.parse(arguments).settings.configuration(from: &sources)
    return (configuration, sources)
}

@Suite struct ConfigurationTests {
    @Test func flagsBecomeConfiguration() async throws {
        let (configuration, _) = try await resolvedConfiguration([
            "--port", "9001", "--symbols", "AAPL,MSFT", "--rate", "50", "--feed", "ingest",
            "--event-loops", "3", "--burst-every", "30", "--burst-for", "3",
        ])
        #expect(configuration.port == 9001)
        #expect(configuration.symbols == .names([Symbol(stringLiteral: "AAPL"), Symbol(stringLiteral: "MSFT")]))
        #expect(configuration.ticksPerSecond == 50 && configuration.feed == .ingest && configuration.eventLoops == 3)
        #expect(configuration.burstPeriodSeconds == 30 && configuration.burstLengthSeconds == 3)
        #expect(try await resolvedConfiguration(["--symbols", "20"]).0.symbols == .count(20))
        let guarded = try await resolvedConfiguration([
            "--allowed-origin", "https://a.example", "--allowed-origin", "http://b.example:81",
        ]).0
        #expect(guarded.origins.allowed == ["https://a.example", "http://b.example:81"])
    }

    /// Issue 24, item 3: every flag is a setting whose key is the flag's name, so its variable is
    /// `TICKERHUB_` and the name in capitals (README's rule), and its help names that variable.
    @Test func everyFlagReadsTheVariableNamedAfterIt() async throws {
        let help = TickerHubCommand.helpMessage(columns: 10_000)
        let flags = Set(help.matches(of: /(?m)^\s+--([a-z0-9-]+)/).map { String($0.output.1) })
        let notSettings: Set<String> = ["config", "print-config", "help", "version"]
        #expect(flags.count > 40)
        let (_, sources) = try await resolvedConfiguration([])
        let keys = Set(sources.resolvedKeys)
        #expect(keys == flags.subtracting(notSettings), "settings read under a key that is not their flag's name")
        for key in keys {
            let variable = SettingSources.variable(for: key)
            #expect(variable == "TICKERHUB_" + key.uppercased().replacingOccurrences(of: "-", with: "_"))
            #expect(help.contains("(env \(variable)"), "--\(key)'s help does not name \(variable)")
        }
    }

    @Test func theOriginListIsReadFromItsVariableAndAMisspeltVariableStopsTheHub() async throws {
        let (configuration, sources) = try await resolvedConfiguration(
            [], environment: ["TICKERHUB_ALLOWED_ORIGIN": "https://desk.example, https://b.example"])
        #expect(configuration.origins.allowed == ["https://desk.example", "https://b.example"])
        #expect(
            sources.yaml().range(of: #"allowed-origin: \[.*\]\s+# environment"#, options: .regularExpression) != nil)
        for variable in ["TICKERHUB_ALLOWED_ORIGINS", "TICKERHUB_MAX_BACKLOG", "TICKERHUB_NONSENSE"] {
            do {
                _ = try await resolvedConfiguration([], environment: [variable: "https://desk.example"])
                Issue.record("\(variable) was ignored")
            } catch {
                #expect("\(error)".contains("unknown environment variable \(variable)"))
                if variable == "TICKERHUB_ALLOWED_ORIGINS" {
                    #expect("\(error)".contains("did you mean TICKERHUB_ALLOWED_ORIGIN?"))
                }
            }
        }
        // The harnesses' own variables are not settings, and not refused.
        _ = try await resolvedConfiguration([], environment: ["TICKERHUB_BIN_DIR": "/tmp", "PATH": "/bin"])
    }

    @Test func slowConsumerFlagsTakeBytesAndSeconds() async throws {
        let configuration = try await resolvedConfiguration([
            "--max-backlog-bytes", "65536", "--slow-client-timeout", "5",
            "--socket-send-buffer", "0",
        ]).0
        #expect(configuration.maxBacklogBytes == 65536 && configuration.backlogResumeBytes == 16384)
        #expect(configuration.backlogHardLimitBytes == 262_144)
        #expect(configuration.slowClientTimeoutSeconds == 5 && configuration.socketSendBufferBytes == 0)
        #expect(try await resolvedConfiguration(["--slow-client-timeout", "0.5"]).0.slowClientTimeoutSeconds == 0.5)
        let defaults = try await resolvedConfiguration([]).0
        #expect(
            defaults.maxBacklogBytes == 128 * 1024 && defaults.slowClientTimeoutSeconds == 30
                && defaults.socketSendBufferBytes == 64 * 1024)
    }

    @Test func flagsOverrideTheEnvironmentWhichOverridesTheFile() async throws {
        let file = """
            port: 7000
            rate: 2.5
            history: 100
            zstd: off
            allowed-origin: [https://a.example, https://b.example]
            symbols: AAPL,MSFT
            """
        let (configuration, sources) = try await resolvedConfiguration(
            ["--port", "9000"],
            environment: [
                "TICKERHUB_PORT": "8000", "TICKERHUB_HISTORY": "7",
                "TICKERHUB_AUTH_SECRET": String(repeating: "s", count: 32),
            ],
            file: file)
        #expect(configuration.port == 9000)  // flag over environment over file
        #expect(configuration.engine.historyDepth == 7)  // environment over file
        #expect(configuration.ticksPerSecond == 2.5 && !configuration.zstd)  // file
        #expect(configuration.origins.allowed == ["https://a.example", "https://b.example"])
        #expect(configuration.symbols == .names(["AAPL", "MSFT"]))
        #expect(configuration.auth != nil)
        let printed = sources.yaml()
        #expect(printed.contains("port: 9000") && printed.contains("# flag"))
        #expect(printed.range(of: #"history: 7\s+# environment"#, options: .regularExpression) != nil)
        #expect(printed.range(of: #"rate: 2.5\s+# file"#, options: .regularExpression) != nil)
        #expect(printed.range(of: #"max-symbols: 1000\s+# default"#, options: .regularExpression) != nil)
        #expect(printed.contains("auth-secret: <set>") && !printed.contains("ssssssss"), "secrets are not printed")
        let json = try await resolvedConfiguration(
            [], file: #"{"port": 8181, "history": 3, "allowed-origin": ["https://c.example"]}"#, fileExtension: "json"
        ).0
        #expect(json.port == 8181 && json.engine.historyDepth == 3 && json.origins.allowed == ["https://c.example"])
    }

    @Test(
        arguments: [
            (["--feed", "nats"], [:], nil), (["--port", "70000"], [:], nil), (["--symbols", "aapl"], [:], nil),
            (["--ring-bytes", "1000"], [:], nil), (["--burst-every", "5", "--burst-for", "6"], [:], nil),
            (["--log-level", "chatty"], [:], nil), (["--max-backlog-bytes", "100"], [:], nil),
            (["--slow-client-timeout", "0"], [:], nil), (["--slow-client-timeout", "soon"], [:], nil),
            (["--socket-send-buffer", "10"], [:], nil), (["--allowed-origin", "desk.example.com"], [:], nil),
            (["--allowed-origin", "https://desk.example.com/app"], [:], nil), ([], ["TICKERHUB_RATE": "fast"], nil),
            ([], ["TICKERHUB_PORT": "99999"], nil), ([], [:], "port: 80x"), ([], [:], "prot: 8080"),
            ([], [:], "history: -1"),
            ([], [:], "auth-secret: short"),
        ] as [([String], [String: String], String?)])
    func rejectsBadSettingsFromAnySource(_ arguments: [String], _ environment: [String: String], _ file: String?) async
    {
        await #expect(throws: (any Error).self) {
            try await resolvedConfiguration(arguments, environment: environment, file: file)
        }
    }

    @Test func admissionIsTheOneDoor() {
        let sim = ConnectionAdmission(acceptsPublishers: false, deflate: PerMessageDeflateNegotiation(mode: .shared))
        let ingest = ConnectionAdmission(acceptsPublishers: true, deflate: PerMessageDeflateNegotiation(mode: .off))
        func head(_ uri: String, _ method: HTTPMethod = .GET, extensions: String? = nil) -> HTTPRequestHead {
            var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
            if let extensions { head.headers.add(name: "Sec-WebSocket-Extensions", value: extensions) }
            return head
        }
        #expect(sim.decide(head("/ws")) == .subscriber(deflate: nil))
        #expect(sim.decide(head("/ws?x=1")) == .subscriber(deflate: nil))
        #expect(sim.decide(head("/ingest")) == .refuse)
        #expect(ingest.decide(head("/ingest")) == .publisher(symbols: .everything))
        #expect(sim.decide(head("/other")) == .refuse)
        #expect(sim.decide(head("/ws", .POST)) == .refuse)
        let compressed = sim.decide(head("/ws", extensions: "permessage-deflate; client_max_window_bits"))
        guard case .subscriber(let agreement?, false, _) = compressed else {
            Issue.record("no deflate agreement")
            return
        }
        #expect(agreement.usesSharedFrames)
        #expect(
            ConnectionAdmission.responseHeaders(for: compressed)["Sec-WebSocket-Extensions"] == [
                agreement.responseHeader
            ])
        #expect(ingest.decide(head("/ws", extensions: "permessage-deflate")) == .subscriber(deflate: nil))
        // The zstd subprotocol wins over deflate (its frames are compressed already), when offered.
        var zstdHead = head("/ws", extensions: "permessage-deflate")
        zstdHead.headers.add(name: "Sec-WebSocket-Protocol", value: "tickerhub.v1, tickerhub.v1.zstd")
        let zstdHub = ConnectionAdmission(
            acceptsPublishers: false, deflate: PerMessageDeflateNegotiation(mode: .shared), offersZstd: true)
        #expect(zstdHub.decide(zstdHead) == .subscriber(deflate: nil, zstd: true))
        #expect(
            ConnectionAdmission.responseHeaders(for: .subscriber(deflate: nil, zstd: true))["Sec-WebSocket-Protocol"]
                == ["tickerhub.v1.zstd"])
        if case .subscriber(_, let zstd, _) = sim.decide(zstdHead) { #expect(!zstd) }
        // The heartbeat is the client's to choose in the URL, over the hub's default.
        #expect(
            sim.decide(head("/ws?heartbeat=5000"))
                == .subscriber(deflate: nil, options: SubscriberOptions(heartbeatMilliseconds: 5000)))
        #expect(
            sim.decide(head("/ws?heartbeat=0"))
                == .subscriber(deflate: nil, options: SubscriberOptions(heartbeatMilliseconds: nil)))
        var withDefault = sim
        withDefault.defaultHeartbeatMilliseconds = 2000
        #expect(
            withDefault.decide(head("/ws"))
                == .subscriber(deflate: nil, options: SubscriberOptions(heartbeatMilliseconds: 2000)))
        #expect(
            withDefault.decide(head("/ws?heartbeat=0"))
                == .subscriber(deflate: nil, options: SubscriberOptions(heartbeatMilliseconds: nil)))
        // An origin allow-list refuses other pages' handshakes, never native clients (no Origin) or the hub's own
        // pages.
        var guarded = ingest
        guarded.origins = OriginPolicy(allowed: ["https://desk.example.com", "http://localhost:3000/"])
        func from(_ origin: String?, _ uri: String = "/ws", host: String = "hub.example.com:8080") -> HTTPRequestHead {
            var request = head(uri)
            request.headers.add(name: "Host", value: host)
            if let origin { request.headers.add(name: "Origin", value: origin) }
            return request
        }
        #expect(guarded.decide(from("https://desk.example.com")) == .subscriber(deflate: nil))
        #expect(guarded.decide(from("HTTP://LOCALHOST:3000")) == .subscriber(deflate: nil))
        #expect(guarded.decide(from(nil)) == .subscriber(deflate: nil))
        #expect(
            guarded.decide(from("http://127.0.0.1:8080", host: "127.0.0.1:8080")) == .subscriber(deflate: nil),
            "the hub's own pages")
        #expect(guarded.decide(from("http://[::1]:8080", host: "[::1]:8080")) == .subscriber(deflate: nil))
        #expect(guarded.decide(from("http://localhost:8080", host: "localhost:8080")) == .subscriber(deflate: nil))
        // DNS rebinding: the attacker's name resolves to the hub, so Host and Origin agree. A name is
        // not proof of the same origin; nor is an origin of another scheme.
        #expect(guarded.decide(from("http://hub.example.com:8080")) == .refuse, "a name must be listed")
        #expect(
            guarded.decide(from("https://127.0.0.1:8080", host: "127.0.0.1:8080")) == .refuse,
            "not this listener's scheme")
        // A web page never publishes, list or no list, unless its origin is listed.
        #expect(ingest.decide(from("http://127.0.0.1:8080", "/ingest", host: "127.0.0.1:8080")) == .refuse)
        #expect(ingest.decide(from("https://evil.example.net", "/ingest")) == .refuse)
        #expect(ingest.decide(from(nil, "/ingest")) == .publisher(symbols: .everything))
        #expect(
            guarded.decide(from("https://desk.example.com", "/ingest")) == .publisher(symbols: .everything),
            "listed explicitly")
        #expect(guarded.decide(from("https://evil.example.net")) == .refuse)
        #expect(guarded.decide(from("https://evil.example.net", "/ingest")) == .refuse)
        #expect(guarded.decide(from("https://desk.example.com.evil.net")) == .refuse)
        #expect(guarded.decide(from("null")) == .refuse)
        #expect(ingest.decide(from("https://evil.example.net")) == .subscriber(deflate: nil), "no list: any origin")
        // With a publisher token, /ingest opens only for a request that carries it.
        var guardedIngest = ingest
        guardedIngest.ingestCredential = IngestCredential("t0ken")
        var bearer = head("/ingest")
        bearer.headers.add(name: "Authorization", value: "Bearer t0ken")
        var wrongBearer = head("/ingest")
        wrongBearer.headers.add(name: "Authorization", value: "Bearer t0kem")
        #expect(guardedIngest.decide(bearer) == .publisher(symbols: .everything))
        #expect(guardedIngest.decide(head("/ingest?token=t0ken")) == .publisher(symbols: .everything))
        #expect(guardedIngest.decide(head("/ingest")) == .refuse)
        #expect(guardedIngest.decide(wrongBearer) == .refuse)
        #expect(guardedIngest.decide(head("/ingest?token=t0ke")) == .refuse)
        #expect(IngestCredential("") == nil && IngestCredential(nil) == nil)
        for bad in ["/ws?heartbeat=10", "/ws?heartbeat=abc", "/ws?heartbeat=", "/ws?heartbeat=99999999"] {
            #expect(sim.decide(head(bad)) == .refuse, "the HTTP routes answer \(bad) with 400")
        }
    }
}
