/// The version the hub names in `welcome` (as `server`: `tickerhub/0.1.0`).
enum TickerHubVersion {
    static let current = "0.1.0"
}
