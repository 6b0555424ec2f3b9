#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A request from a subscriber, protocol `tickerhub.v1`.
public enum ClientMessage: Sendable, Equatable {
    /// `updateInterval` is the request's `maxFrequency`; nil means every update. `resume` is where a
    /// reconnecting client left off (`since` and `epoch`), for recovery from the hub's history.
    case subscribe(
        id: Int64?, symbols: [String], updateInterval: UpdateInterval? = nil, resume: ResumePoint? = nil,
        channel: SubscriptionChannel = .ticks)
    /// `channel`: the one to leave; `.book(depth: nil)` leaves a book at every depth.
    case unsubscribe(id: Int64?, symbols: [String], channel: ChannelScope = .ticks)
    /// One page of the hub's symbols, in the order they were registered, starting after `after`.
    case list(id: Int64?, after: String? = nil)
    case ping(id: Int64?)
    case stats(id: Int64?)
    /// A fresh access token for a live connection, before the old one lapses (hubs with auth on).
    case auth(id: Int64?, token: String)

    /// The requests' names (`"op"`): one vocabulary for parsing them and for the `ack`s answering them.
    public enum Op: String, Sendable, CaseIterable {
        case subscribe, unsubscribe, list, ping, stats, auth
    }

    public var id: Int64? {
        switch self {
        case .subscribe(let id, _, _, _, _), .unsubscribe(let id, _, _), .list(let id, _), .ping(let id),
            .stats(let id), .auth(let id, _):
            return id
        }
    }

    /// Limits applied while parsing, before any allocation proportional to the input.
    public struct Limits: Sendable {
        public var maxMessageBytes: Int
        public var maxSymbolsPerRequest: Int

        public init(maxMessageBytes: Int = 64 * 1024, maxSymbolsPerRequest: Int = 1000) {
            self.maxMessageBytes = maxMessageBytes
            self.maxSymbolsPerRequest = maxSymbolsPerRequest
        }
    }

    /// Parses one text message. A pure function of its input: it never traps, whatever the bytes,
    /// and every failure is a `ProtocolError` carrying the request id when one could be read.
    public static func parse(_ bytes: some Collection<UInt8>, limits: Limits = Limits()) -> Result<
        ClientMessage, ProtocolError
    > {
        guard bytes.count <= limits.maxMessageBytes else {
            return .failure(
                ProtocolError(
                    code: .messageTooLarge,
                    message: "message of \(bytes.count) bytes exceeds \(limits.maxMessageBytes)"))
        }
        let raw: RawRequest
        do {
            raw = try JSONDecoder().decode(RawRequest.self, from: Data(bytes))
        } catch {
            return .failure(ProtocolError(code: .badJSON, message: "request is not a JSON object"))
        }
        if let problem = raw.problem {
            return .failure(ProtocolError(id: raw.id, code: .invalidRequest, message: problem))
        }
        guard let name = raw.op else {
            return .failure(ProtocolError(id: raw.id, code: .invalidRequest, message: "missing \"op\""))
        }
        guard let op = Op(rawValue: name) else {
            return .failure(ProtocolError(id: raw.id, code: .unknownOp, message: "unknown op \"\(name.prefix(64))\""))
        }
        switch op {
        case .subscribe, .unsubscribe:
            guard let symbols = raw.symbols else {
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .invalidRequest, message: "\"\(name)\" needs \"symbols\": an array of strings"
                    ))
            }
            guard symbols.count <= limits.maxSymbolsPerRequest else {
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .tooManySymbols,
                        message: "\(symbols.count) symbols in one request; the limit is \(limits.maxSymbolsPerRequest)")
                )
            }
            if let depth = raw.depth, raw.channel != "book" {
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .invalidRequest,
                        message: "\"depth\" (\(depth)) applies only to \"channel\":\"book\""))
            }
            if let depth = raw.depth, !OrderBook.depths.contains(depth) {
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .invalidRequest,
                        message: "\"depth\" must be one of \(OrderBook.depths.map(String.init).joined(separator: ", "))"
                    ))
            }
            if raw.interval != nil, raw.channel != "candles" {
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .invalidRequest,
                        message: "\"interval\" applies only to \"channel\":\"candles\""))
            }
            var barInterval: CandleInterval?
            if let text = raw.interval {
                guard let valid = CandleInterval(rawValue: text) else {
                    return .failure(
                        ProtocolError(
                            id: raw.id, code: .invalidRequest,
                            message:
                                """
                                \"interval\" must be one of\
                                 \(CandleInterval.allCases.map(\.rawValue).joined(separator: ", "))
                                """
                        ))
                }
                barInterval = valid
            }
            let scope: ChannelScope
            switch raw.channel {
            case nil: scope = .ticks
            case "quotes": scope = .quotes
            case "trades": scope = .trades
            case "book": scope = .book(depth: raw.depth)
            case "candles": scope = .candles(barInterval)
            case let other?:
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .invalidRequest,
                        message:
                            """
                            unknown \"channel\" \"\(other.prefix(32))\": one of quotes, trades, book, candles\
                             (or none: quotes and trades)
                            """
                    ))
            }
            guard op == .subscribe else {
                return .success(.unsubscribe(id: raw.id, symbols: symbols, channel: scope))
            }
            let channel: SubscriptionChannel
            switch scope {
            case .ticks: channel = .ticks
            case .quotes: channel = .quotes
            case .trades: channel = .trades
            case .book(let depth): channel = .book(depth: depth ?? OrderBook.depths[0])
            case .candles(let interval?): channel = .candles(interval)
            case .candles(nil):
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .invalidRequest,
                        message:
                            """
                            a \"candles\" subscribe needs \"interval\": one of\
                             \(CandleInterval.allCases.map(\.rawValue).joined(separator: ", "))
                            """
                    ))
            }
            var interval: UpdateInterval?
            if let frequency = raw.maxFrequency {
                guard let valid = UpdateInterval(maxFrequency: frequency) else {
                    return .failure(
                        ProtocolError(
                            id: raw.id, code: .invalidRequest,
                            message:
                                """
                                \"maxFrequency\" must be from \(UpdateInterval.lowestFrequency) to\
                                 \(Int(UpdateInterval.highestFrequency)) updates per second
                                """
                        ))
                }
                interval = valid
            }
            var epoch: FeedEpoch?
            if let text = raw.epoch {
                guard let valid = FeedEpoch(text) else {
                    return .failure(
                        ProtocolError(
                            id: raw.id, code: .invalidRequest, message: "\"epoch\" is not an epoch a hub sends"))
                }
                epoch = valid
            }
            var resume: ResumePoint?
            if let since = raw.since {
                let requested = Set(symbols)
                guard since.keys.allSatisfy(requested.contains) else {
                    return .failure(
                        ProtocolError(
                            id: raw.id, code: .invalidRequest,
                            message: "\"since\" may name only symbols of this subscribe"))
                }
                resume = ResumePoint(epoch: epoch, lastSeqs: since)
            }
            if resume != nil, ![.ticks, .quotes, .trades].contains(channel) {
                return .failure(
                    ProtocolError(
                        id: raw.id, code: .invalidRequest,
                        message: "\"since\" recovers quotes and trades; a book or bars start from their snapshot"))
            }
            return .success(
                .subscribe(id: raw.id, symbols: symbols, updateInterval: interval, resume: resume, channel: channel))
        case .list: return .success(.list(id: raw.id, after: raw.after))
        case .ping: return .success(.ping(id: raw.id))
        case .stats: return .success(.stats(id: raw.id))
        case .auth:
            guard let token = raw.token, !token.isEmpty else {
                return .failure(
                    ProtocolError(id: raw.id, code: .invalidRequest, message: "\"auth\" needs \"token\": a string"))
            }
            return .success(.auth(id: raw.id, token: token))
        }
    }
}

/// The request as JSON, before validation. Each field is decoded on its own so that one bad field
/// still lets us echo the request id in the error.
private struct RawRequest: Decodable {
    var op: String?
    var id: Int64?
    var symbols: [String]?
    var maxFrequency: Double?
    var after: String?
    var token: String?
    var since: [String: UInt64]?
    var epoch: String?
    var channel: String?
    var depth: Int?
    var interval: String?
    var problem: String?

    enum CodingKeys: String, CodingKey {
        case op, id, symbols, maxFrequency, after, token, since, epoch, channel, depth, interval
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try? container.decodeIfPresent(Int64.self, forKey: .id)
        if id == nil, container.contains(.id), (try? container.decodeNil(forKey: .id)) != true {
            problem = "\"id\" must be an integer"
        }
        do {
            op = try container.decodeIfPresent(String.self, forKey: .op)
        } catch {
            problem = problem ?? "\"op\" must be a string"
        }
        do {
            symbols = try container.decodeIfPresent([String].self, forKey: .symbols)
        } catch {
            problem = problem ?? "\"symbols\" must be an array of strings"
        }
        do {
            maxFrequency = try container.decodeIfPresent(Double.self, forKey: .maxFrequency)
        } catch {
            problem = problem ?? "\"maxFrequency\" must be a number (updates per second)"
        }
        do {
            after = try container.decodeIfPresent(String.self, forKey: .after)
        } catch {
            problem = problem ?? "\"after\" must be a string (the last symbol of the previous page)"
        }
        do {
            token = try container.decodeIfPresent(String.self, forKey: .token)
        } catch {
            problem = problem ?? "\"token\" must be a string"
        }
        do {
            since = try container.decodeIfPresent([String: UInt64].self, forKey: .since)
        } catch {
            problem = problem ?? "\"since\" must be an object from symbol to the last seq held (a whole number)"
        }
        do {
            epoch = try container.decodeIfPresent(String.self, forKey: .epoch)
        } catch {
            problem = problem ?? "\"epoch\" must be a string"
        }
        do {
            channel = try container.decodeIfPresent(String.self, forKey: .channel)
        } catch {
            problem = problem ?? "\"channel\" must be a string"
        }
        do {
            depth = try container.decodeIfPresent(Int.self, forKey: .depth)
        } catch {
            problem = problem ?? "\"depth\" must be a whole number: 10, 25 or 100"
        }
        do {
            interval = try container.decodeIfPresent(String.self, forKey: .interval)
        } catch {
            problem = problem ?? "\"interval\" must be a string: 1s, 1m, 5m or 1h"
        }
    }
}
