import Foundation
import Logging
import NIOCore
import Testing
@testable import TickerHub

/// The settings are read in one place (`HubSettings`) and checked in one place
/// (`HubConfiguration.validate`); what documents them is held to that.
@Suite struct SettingsCatalogTests {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Every setting's key, as the reader resolves them all with nothing set.
    private func settingKeys() async throws -> Set<String> {
        var sources = try await SettingSources.load(configPath: nil, environment: [:])
        _ = try TickerHubCommand.parse([]).settings.configuration(from: &sources)
        return Set(sources.resolvedKeys)
    }

    @Test func readmesSettingsTableNamesEverySettingAndNoOther() async throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let section =
            try #require(
                readme.components(separatedBy: "## Settings: flags, environment, config file").dropFirst().first
            )
            .components(separatedBy: "\n## ").first ?? ""
        var documented = Set<String>()
        for row in section.split(separator: "\n") where row.hasPrefix("| `--") {
            let firstColumn = row.split(separator: "|").first ?? ""
            documented.formUnion(firstColumn.matches(of: /`--([a-z0-9-]+)`/).map { String($0.output.1) })
        }
        let keys = try await settingKeys()
        #expect(keys.count > 40)
        #expect(
            documented.subtracting(["config", "print-config"]) == keys,
            """
            README lacks \(keys.subtracting(documented).sorted()); names what is no setting:\
             \(documented.subtracting(keys).subtracting(["config", "print-config"]).sorted())
            """
        )
    }

    @Test func theDeployConfigFileUsesOnlySettingKeysCommentedOnesToo() async throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("deploy/tickerhub.yaml"), encoding: .utf8)
        let keys = text.matches(of: /(?m)^#? ?([a-z][a-z0-9-]*):/).map { String($0.output.1) }
        #expect(keys.count > 30)
        let known = try await settingKeys()
        #expect(
            Set(keys).subtracting(known).isEmpty,
            "deploy/tickerhub.yaml names keys no setting has: \(Set(keys).subtracting(known).sorted())")
    }

    /// A configuration built in code is held to the rules the command line is.
    @Test func aHubRefusesAConfigurationTheCommandLineWould() {
        let refusals: [(String, (inout HubConfiguration) -> Void)] = [
            ("--port", { $0.port = 70_000 }),
            ("--ring-bytes", { $0.engine.ringBytes = 100_000 }),
            ("--request-timeout", { $0.requestTimeout = .saturating(seconds: .nan) }),
            ("--drain-budget-ms", { $0.engine.drain.budget = .zero }),
            (
                "--transport owned",
                {
                    $0.feed = .nats
                    $0.natsServers = ["nats://127.0.0.1:4222"]
                    $0.transport = .owned
                }
            ),
            (
                "--feed ingest",
                {
                    $0.feed = .ingest
                    $0.host = "0.0.0.0"
                }
            ),
            (
                "--burst-for",
                {
                    $0.burstPeriodSeconds = 1
                    $0.burstLengthSeconds = 2
                }
            ),
        ]
        for (flag, breakIt) in refusals {
            var configuration = HubConfiguration()
            breakIt(&configuration)
            #expect(throws: ConfigurationError.self, "\(flag)") {
                _ = try Hub(configuration: configuration, logger: Logger(label: "test"))
            }
            #expect((try? configuration.validate()) == nil)
            do { try configuration.validate() } catch { #expect(error.description.contains(flag), "\(error)") }
        }
        #expect((try? HubConfiguration().validate()) != nil, "the defaults are valid")
        #expect(
            TimeAmount.saturating(seconds: 1e300) == .nanoseconds(.max)
                && TimeAmount.saturating(seconds: -.infinity) == .nanoseconds(.min))
    }
}
