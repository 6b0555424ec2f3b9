import ArgumentParser
import Configuration
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Yams

/// Where each setting of the hub comes from, in order: its flag, then its environment variable
/// (`TICKERHUB_` and the flag's name in capitals: `--max-backlog-bytes` is
/// `TICKERHUB_MAX_BACKLOG_BYTES`), then the config file (`--config`, YAML or JSON, keys named as
/// the flags: `max-backlog-bytes: 131072`), then the default. swift-configuration reads the
/// environment and the file; every value, from wherever, is parsed as its flag's would be, so a
/// setting means the same in all three places. Each resolution is recorded for `--print-config`.
struct SettingSources {
    enum Origin: String {
        case flag, environment, file, `default`
    }

    struct Resolved {
        let key: String
        /// The value as text (YAML-ready), or `<set>` for a secret.
        let text: String
        let origin: Origin
    }

    private let environment: ConfigReader
    /// The `TICKERHUB_*` variables set, to refuse the ones no setting has: a misspelt or renamed
    /// variable must stop the hub, not leave a limit (an origin list, a token) silently unset.
    private let variablesSet: Set<String>
    private let file: ConfigReader?
    /// The file's top-level keys, to refuse the ones no setting has (a typo must not go unnoticed).
    private let fileKeys: Set<String>
    let filePath: String?
    private(set) var resolved: [Resolved] = []
    /// The settings resolved so far, by key (the flag's name).
    var resolvedKeys: [String] { resolved.map(\.key) }

    /// Reads the environment, and the file at `configPath` if given (`.json`: JSON, else YAML).
    static func load(configPath: String?, environment variables: [String: String] = ProcessInfo.processInfo.environment)
        async throws -> SettingSources
    {
        let environment = ConfigReader(
            provider: EnvironmentVariablesProvider(environmentVariables: variables).prefixKeys(with: "tickerhub"))
        let variablesSet = Set(variables.keys.filter { $0.hasPrefix("TICKERHUB_") })
        guard let configPath else {
            return SettingSources(
                environment: environment, variablesSet: variablesSet, file: nil, fileKeys: [], filePath: nil)
        }
        let file: ConfigReader
        let keys: [String]
        do {
            if configPath.hasSuffix(".json") {
                file = ConfigReader(provider: try await FileProvider<JSONSnapshot>(filePath: .init(configPath)))
            } else {
                file = ConfigReader(provider: try await FileProvider<YAMLSnapshot>(filePath: .init(configPath)))
            }
            // The top-level keys (JSON is YAML too), which swift-configuration does not list.
            let text = try String(contentsOfFile: configPath, encoding: .utf8)
            keys = ((try Yams.load(yaml: text)) as? [String: Any]).map { Array($0.keys) } ?? []
        } catch {
            throw ValidationError("cannot read --config \(configPath): \(error)")
        }
        return SettingSources(
            environment: environment, variablesSet: variablesSet, file: file, fileKeys: Set(keys), filePath: configPath)
    }

    /// The setting `key`: `flag` if given, else the environment's, else the file's, else `defaultValue`.
    mutating func value<Value: ExpressibleByArgument>(
        _ flag: Value?, _ key: String, default defaultValue: Value,
        secret: Bool = false
    ) throws -> Value {
        try optional(flag, key, secret: secret) ?? record(key, defaultValue, .default, secret: secret)
    }

    /// As `value`, for a setting with no default (nil: not set anywhere).
    mutating func optional<Value: ExpressibleByArgument>(_ flag: Value?, _ key: String, secret: Bool = false) throws
        -> Value?
    {
        if let flag { return record(key, flag, .flag, secret: secret) }
        for (origin, reader) in [(Origin.environment, environment), (.file, file)] {
            guard let reader, let text = Self.text(of: key, in: reader) else { continue }
            guard let value = Value(argument: text) else {
                throw ValidationError(
                    """
                    \(key) from the\
                     \(origin == .file ? "config file" : "environment (\(Self.variable(for: key)))"):\
                     \"\(text)\" is not a valid value
                    """
                )
            }
            return record(key, value, origin, secret: secret)
        }
        resolved.append(Resolved(key: key, text: "~", origin: .default))  // YAML's null: not set
        return nil
    }

    /// A setting that takes several values: repeated flags, a comma-separated variable, or a list in the file.
    mutating func list(_ flags: [String], _ key: String) -> [String] {
        if !flags.isEmpty { return recordList(key, flags, .flag) }
        if let text = environment.string(forKey: ConfigKey([key])) {
            return recordList(
                key, text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, .environment)
        }
        if let file,
            let values = file.stringArray(forKey: ConfigKey([key]))
                ?? file.string(forKey: ConfigKey([key])).map({ [$0] })
        {
            return recordList(key, values, .file)
        }
        return recordList(key, [], .default)
    }

    /// Fails on a file key that no setting read: call after every setting is resolved.
    func checkNoUnknownFileKeys() throws {
        let known = Set(resolved.map(\.key))
        let unknown = fileKeys.subtracting(known).sorted()
        guard unknown.isEmpty else {
            throw ValidationError(
                """
                --config \(filePath ?? ""): unknown setting\(unknown.count == 1 ? "" : "s")\
                 \(unknown.joined(separator: ", ")) (the keys are the flags' names: tickerhub --help)
                """
            )
        }
    }

    /// Variables of this repository's tooling, not settings of the hub, which a developer's shell
    /// may export while it starts hubs: the test and benchmark harnesses' binary directory, the
    /// benchmarks' smoke switch, and the package manifest's engine-only switch.
    static let toolingVariables: Set<String> = ["TICKERHUB_BIN_DIR", "TICKERHUB_BENCH_SMOKE", "TICKERHUB_ENGINE_ONLY"]

    /// Fails on a `TICKERHUB_*` variable that no setting read: call after every setting is resolved.
    func checkNoUnknownVariables() throws {
        let known = Set(resolved.map { Self.variable(for: $0.key) }).union(Self.toolingVariables)
        let unknown = variablesSet.subtracting(known).sorted()
        guard unknown.isEmpty else {
            let suggestions = unknown.compactMap { name in
                known.min { Self.distance(name, $0) < Self.distance(name, $1) }
                    .flatMap { Self.distance(name, $0) <= 3 ? "\(name): did you mean \($0)?" : nil }
            }
            throw ValidationError(
                "unknown environment variable\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", "))"
                    + (suggestions.isEmpty ? "" : " (" + suggestions.joined(separator: "; ") + ")")
                    + ". Every setting's variable is TICKERHUB_ and its flag's name in capitals (tickerhub --help).")
        }
    }

    /// Edit distance, for the suggestion in an unknown variable's message.
    private static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }

    /// The effective configuration as YAML, each value with where it came from.
    func yaml() -> String {
        var lines = [
            """
            # tickerhub: effective configuration (flag > environment >\
             \(filePath.map { "file \($0)" } ?? "no --config file") > default)
            """
        ]
        let width = resolved.map { $0.key.count + $0.text.count + 2 }.max() ?? 0
        for setting in resolved {
            let line = "\(setting.key): \(setting.text)"
            lines.append(line.padding(toLength: width, withPad: " ", startingAt: 0) + "  # \(setting.origin.rawValue)")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: Helpers

    static func variable(for key: String) -> String {
        "TICKERHUB_" + key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    private static func text(of key: String, in reader: ConfigReader) -> String? {
        let configKey = ConfigKey([key])
        if let text = reader.string(forKey: configKey) { return text }
        // YAML and JSON numbers and booleans are not strings to the reader: ask for them as such.
        if let number = reader.int(forKey: configKey) { return String(number) }
        if let number = reader.double(forKey: configKey) { return String(number) }
        if let flag = reader.bool(forKey: configKey) { return flag ? "on" : "off" }
        return nil
    }

    private mutating func record<Value>(_ key: String, _ value: Value, _ origin: Origin, secret: Bool) -> Value {
        keep(Resolved(key: key, text: secret ? "<set>" : Self.yamlScalar("\(value)"), origin: origin))
        return value
    }

    private mutating func recordList(_ key: String, _ values: [String], _ origin: Origin) -> [String] {
        keep(Resolved(key: key, text: "[" + values.map(Self.yamlScalar).joined(separator: ", ") + "]", origin: origin))
        return values
    }

    /// One line per setting: a setting read twice (`value` asks `optional` first) keeps its last
    /// resolution, in the place of its first.
    private mutating func keep(_ resolution: Resolved) {
        if let index = resolved.firstIndex(where: { $0.key == resolution.key }) {
            resolved[index] = resolution
        } else {
            resolved.append(resolution)
        }
    }

    /// YAML 1.1 reads these bare words as booleans or null: printed quoted, they stay text.
    private static let yamlKeywords: Set<String> = ["on", "off", "yes", "no", "y", "n", "true", "false", "null", "~"]

    private static func yamlScalar(_ text: String) -> String {
        let plain =
            !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "._-/".contains($0) }
            && !yamlKeywords.contains(text.lowercased())
        return plain
            ? text
            : "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                + "\""
    }
}
