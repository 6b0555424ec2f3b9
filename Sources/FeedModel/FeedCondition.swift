/// Whether the hub's feed is flowing (`status` messages, `/readyz`).
public enum FeedCondition: Sendable, Equatable {
    case live
    /// The upstream is lost; the values are the last ones received.
    case stale(reason: String)
}
