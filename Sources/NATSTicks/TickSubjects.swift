import FeedModel

/// How ticks travel on NATS between a publisher (`feedsim publish --nats`, or a hub with
/// `--publish-nats`) and the hubs it feeds (`tickerhub --feed nats://…`). docs/PROTOCOL.md,
/// "Ticks and books on NATS", is the contract for other publishers.
///
/// - Every tick is one message on `ticks.<SYMBOL>`, its payload a `BinaryTickCodec` batch of that
///   one tick (seq and `ts` as the publisher gave them), with an `Epoch` header naming the
///   publisher's numbering (`FeedEpoch`). Subject per symbol, so a consumer may take a slice of
///   the market with a narrower wildcard; the hub takes `ticks.>`.
/// - Every order book change is one message on `books.<SYMBOL>`: a batch of that one book record
///   (its book seq, apart from the ticks'), under the same header.
/// - A symbol's details (tick size, lot size, currency, name) are a message on
///   `instruments.<SYMBOL>`: a batch of one instrument record, under the same header.
/// - A request on `tickerhub.snapshot` is answered by any live publisher or warm hub with every
///   symbol's details, latest quote and trade, and whole book, in one batch, under the same header.
public enum TickSubjects {
    public static let prefix = "ticks."
    /// Every symbol's ticks.
    public static let everySymbol = "ticks.>"
    public static let bookPrefix = "books."
    public static let instrumentPrefix = "instruments."
    /// Every symbol's instrument details.
    public static let everyInstrument = "instruments.>"
    /// Every symbol's book changes.
    public static let everyBook = "books.>"
    /// The warm-start request a joining hub sends. Not under `ticks.`, so `ticks.>` does not see it.
    public static let snapshotRequest = "tickerhub.snapshot"
    /// The numbering a message's seqs belong to.
    public static let epochHeader = "Epoch"

    public static func subject(of symbol: Symbol) -> String { prefix + symbol.name }
    public static func bookSubject(of symbol: Symbol) -> String { bookPrefix + symbol.name }
    public static func instrumentSubject(of symbol: Symbol) -> String { instrumentPrefix + symbol.name }
}
