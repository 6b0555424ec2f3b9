/// An error reported to a client in an `error` message. The connection stays open.
public struct ProtocolError: Error, Sendable, Equatable {
    /// Stable, documented, snake_case codes (docs/PROTOCOL.md). Clients switch on these.
    public enum Code: String, Sendable, CaseIterable {
        /// The text frame is not valid JSON, or not a JSON object.
        case badJSON = "bad_json"
        /// `op` is present but not one the server knows.
        case unknownOp = "unknown_op"
        /// A field is missing or has the wrong type (e.g. `symbols` is not an array of strings).
        case invalidRequest = "invalid_request"
        /// A symbol in the request is not (yet) published by this hub.
        case unknownSymbol = "unknown_symbol"
        /// The request, or the connection's subscriptions after it, would exceed the symbol limit.
        case tooManySymbols = "too_many_symbols"
        /// The client sent a binary frame; protocol v1 requests are JSON text.
        case unsupportedFrame = "unsupported_frame"
        /// The message is larger than the server accepts.
        case messageTooLarge = "message_too_large"
        /// The connection's access token does not grant these symbols; the rest of the request applied.
        case notEntitled = "not_entitled"
        /// An `auth` request's token is not valid (bad signature, another subject, ...), or the hub
        /// does not use tokens. The connection keeps its current token.
        case invalidToken = "invalid_token"
        /// An `auth` request's token has already expired.
        case tokenExpired = "token_expired"
    }

    public var id: Int64?
    public var code: Code
    public var message: String
    /// The symbols the error is about (`unknown_symbol`, `not_entitled`), all of them, for a client
    /// to act on without reading `message`.
    public var symbols: [String]?

    public init(id: Int64? = nil, code: Code, message: String, symbols: [String]? = nil) {
        self.id = id
        self.code = code
        self.message = message
        self.symbols = symbols
    }

    /// `unknown_symbol`, naming (up to 20 of) the symbols that were not found.
    public static func unknownSymbols(_ names: [String], id: Int64? = nil) -> ProtocolError {
        ProtocolError(
            id: id, code: .unknownSymbol, message: "unknown symbols: \(names.prefix(20).joined(separator: ","))",
            symbols: names)
    }

    /// `not_entitled`, naming (up to 20 of) the symbols the connection's token does not grant.
    public static func notEntitled(_ names: [String], id: Int64? = nil) -> ProtocolError {
        ProtocolError(
            id: id, code: .notEntitled, message: "not entitled to: \(names.prefix(20).joined(separator: ","))",
            symbols: names)
    }
}
