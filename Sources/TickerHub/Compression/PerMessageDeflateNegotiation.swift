/// RFC 7692 negotiation of `permessage-deflate`, as a pure function of the client's
/// `Sec-WebSocket-Extensions` header values.
///
/// The client lists offers in order of preference; the server accepts at most one, or none. An offer
/// the server cannot honour exactly, or that is malformed (an unknown or repeated parameter, a value
/// where none is allowed, a window size outside 8...15), is declined, and the next one is considered
/// (§5.1, §7.1). Declining everything means the connection runs uncompressed, which is always allowed.
///
/// What the hub answers, by mode:
/// - **shared**: `server_no_context_takeover` always (each message stands alone, so one compressed
///   frame serves every such subscriber). The shared frames are built with a 15-bit window, so an
///   offer that limits `server_max_window_bits` below 15 is declined: honouring it would mean a
///   compressor and a compression per delivery for that client alone, work any client could force
///   onto a shared loop. (It may offer again without the limit, or run uncompressed.)
/// - **dedicated**: context takeover unless the client asked for `server_no_context_takeover`; the
///   window is the smaller of the client's `server_max_window_bits` and the hub's bound.
///
/// In dedicated mode an offer of `server_max_window_bits=8` is declined: zlib cannot produce raw
/// DEFLATE with a 256-byte window.
///
/// In both modes the answer includes `client_no_context_takeover` (§7.1.1.2 lets the server ask for it
/// even if not offered): each client message then stands alone, and the hub needs no inflate window
/// per connection.
struct PerMessageDeflateNegotiation {
    enum Mode: String, Sendable, CaseIterable {
        case off, shared, dedicated
    }

    /// What both sides agreed for one connection.
    struct Agreement: Equatable, Sendable {
        /// True when the hub compresses each message on its own (shared frames).
        var serverNoContextTakeover: Bool
        /// The hub's compression window (9...15).
        var serverWindowBits: Int32
        /// True when the connection can take the shared frames (no context takeover, full window):
        /// always, in shared mode.
        var usesSharedFrames: Bool { serverNoContextTakeover && serverWindowBits == 15 }
        /// The `Sec-WebSocket-Extensions` response value.
        var responseHeader: String
    }

    /// One parsed offer: parameter name → value (nil for a parameter without one).
    typealias Offer = [(name: String, value: String?)]

    let mode: Mode
    /// Upper bound on the dedicated mode's window, to bound its memory per connection.
    var dedicatedWindowBits: Int32 = 11

    func negotiate(_ headerValues: [String]) -> Agreement? {
        guard mode != .off else { return nil }
        for offer in Self.offers(in: headerValues) {
            if let agreement = accept(offer) { return agreement }
        }
        return nil
    }

    private func accept(_ offer: Offer) -> Agreement? {
        var seen = Set<String>()
        var serverNoContextTakeover = false
        var serverMaxWindowBits: Int32?
        for (name, value) in offer {
            guard seen.insert(name).inserted else { return nil }  // §7.1: a repeated parameter declines
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { return nil }
                if name == "server_no_context_takeover" { serverNoContextTakeover = true }
            case "server_max_window_bits":
                guard let bits = value.flatMap(Self.windowBits) else { return nil }
                serverMaxWindowBits = bits
            case "client_max_window_bits":
                // May come without a value (the client supports the parameter); with one, 8...15.
                if let value, Self.windowBits(value) == nil { return nil }
            default:
                return nil  // unknown parameter
            }
        }
        var response = ["permessage-deflate"]
        switch mode {
        case .off:
            return nil
        case .shared:
            if let bits = serverMaxWindowBits, bits < 15 { return nil }
            response.append("server_no_context_takeover")
            if serverMaxWindowBits != nil { response.append("server_max_window_bits=15") }
            response.append("client_no_context_takeover")
            return Agreement(
                serverNoContextTakeover: true, serverWindowBits: 15, responseHeader: response.joined(separator: "; "))
        case .dedicated:
            if serverMaxWindowBits == 8 { return nil }
            let bits = min(serverMaxWindowBits ?? 15, dedicatedWindowBits)
            if serverNoContextTakeover { response.append("server_no_context_takeover") }
            // Saying our window lets the client allocate less (§7.1.2.1).
            response.append("server_max_window_bits=\(bits)")
            response.append("client_no_context_takeover")
            return Agreement(
                serverNoContextTakeover: serverNoContextTakeover, serverWindowBits: bits,
                responseHeader: response.joined(separator: "; "))
        }
    }

    /// The `permessage-deflate` offers in `headerValues`, in order. Other extensions are skipped.
    /// Values may be tokens or quoted strings (RFC 6455 §9.1); a malformed element yields an offer with
    /// an invalid parameter, which `accept` declines.
    static func offers(in headerValues: [String]) -> [Offer] {
        var offers: [Offer] = []
        for header in headerValues {
            for element in splitOutsideQuotes(header, on: ",") {
                let parts = splitOutsideQuotes(element, on: ";").map { $0.trimmingSpaces }
                guard parts.first?.lowercased() == "permessage-deflate" else { continue }
                var offer: Offer = []
                for parameter in parts.dropFirst() {
                    if let equals = parameter.firstIndex(of: "=") {
                        let name = String(parameter[..<equals]).trimmingSpaces.lowercased()
                        var value = String(parameter[parameter.index(after: equals)...]).trimmingSpaces
                        if value.count >= 2, value.first == "\"", value.last == "\"" {
                            value = String(value.dropFirst().dropLast())
                        }
                        offer.append((name, value))
                    } else {
                        offer.append((parameter.lowercased(), nil))
                    }
                }
                offers.append(offer)
            }
        }
        return offers
    }

    /// A window size parameter value: 1*DIGIT in 8...15, no leading zero (§7.1.2).
    private static func windowBits(_ text: String) -> Int32? {
        guard !text.isEmpty, text.count <= 2, text.first != "0", text.allSatisfy(\.isASCIIDigit),
            let bits = Int32(text), (8...15).contains(bits)
        else { return nil }
        return bits
    }

    private static func splitOutsideQuotes(_ text: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if character == separator && !quoted {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts.filter { !$0.trimmingSpaces.isEmpty }
    }
}

private extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
