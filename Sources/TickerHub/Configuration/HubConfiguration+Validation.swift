import NIOCore

/// A setting out of its range, or settings that do not go together: the message names the flags,
/// since that is what the operator wrote (or its variable, or its file key, which are named after it).
struct ConfigurationError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension HubConfiguration {
    /// Checks every value against its range and the settings against each other, by the rules each
    /// settings group states (`HubSettings.check`). `tickerhub` checks what it read, and `Hub`
    /// checks what it is given, so a configuration built in a test or a tool is held to the same
    /// rules: a hub never starts on one it would refuse.
    func validate() throws(ConfigurationError) {
        try HubSettings.check(self)
    }
}

/// A settings rule: `message` (naming the flags) unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(ConfigurationError) {
    if !condition { throw ConfigurationError(message()) }
}

extension TimeAmount {
    /// `seconds` as a time amount, saturating at the ends of its range (NaN: the lowest), so that a
    /// setting read as a number of seconds is checked by `validate`, never trapped on converting.
    static func saturating(seconds: Double) -> TimeAmount {
        let nanoseconds = seconds * 1e9
        guard nanoseconds > -9.2e18 else { return .nanoseconds(.min) }  // and NaN
        guard nanoseconds < 9.2e18 else { return .nanoseconds(.max) }
        return .nanoseconds(Int64(nanoseconds))
    }
}
