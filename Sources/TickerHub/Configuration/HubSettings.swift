import ArgumentParser

/// Every setting of the hub, in groups, one file each in `Settings/` (`TickerHubCommand` takes them
/// whole). A group holds its settings' flags, how each is read (flag, then its environment
/// variable, then the config file: `SettingSources`, under the key named after the flag), and the
/// rules its values must keep (`check`), which `HubConfiguration.validate` applies to every
/// configuration, read or built in code.
///
/// A new setting: its flag, its line in `read` and its rule in its group; its field in
/// `HubConfiguration`; its row in README's settings table (`SettingsCatalogTests` holds the table
/// and `deploy/tickerhub.yaml` to the settings).
struct HubSettings: ParsableArguments {
    @OptionGroup var listener: ListenerSettings
    @OptionGroup var feed: FeedSettings
    @OptionGroup var subscribers: SubscriberSettings
    @OptionGroup var limits: LimitSettings
    @OptionGroup var fanout: FanoutSettings
    @OptionGroup var security: SecuritySettings

    /// Resolves every setting into the hub's configuration, and checks it. Only what cannot be a
    /// field of the configuration is checked while reading: text that does not parse, secrets, and
    /// files to read.
    func configuration(from sources: inout SettingSources) throws -> HubConfiguration {
        var configuration = HubConfiguration()
        // The feed first: whether the owned transport can serve (`ListenerSettings`) depends on it.
        try feed.read(into: &configuration, from: &sources)
        try listener.read(into: &configuration, from: &sources)
        try subscribers.read(into: &configuration, from: &sources)
        try limits.read(into: &configuration, from: &sources)
        try fanout.read(into: &configuration, from: &sources)
        try security.read(into: &configuration, from: &sources)
        try sources.checkNoUnknownFileKeys()
        try sources.checkNoUnknownVariables()
        do {
            try configuration.validate()
        } catch {
            throw ValidationError(error.description)
        }
        return configuration
    }

    /// Every group's rules.
    static func check(_ configuration: HubConfiguration) throws(ConfigurationError) {
        try ListenerSettings.check(configuration)
        try FeedSettings.check(configuration)
        try SubscriberSettings.check(configuration)
        try LimitSettings.check(configuration)
        try FanoutSettings.check(configuration)
        try SecuritySettings.check(configuration)
    }
}
