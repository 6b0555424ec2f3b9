import FeedModel
import Foundation
import Testing

/// `CloseCode` is the one list: PROTOCOL.md's table names exactly the codes the hub sends, and both
/// clients know every one of them.
@Suite struct CloseCodeTests {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    private static let sent = Set(CloseCode.sentByTheHub.map { Int($0.rawValue) })

    private func text(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The four-digit numbers in `text` between `start` and the first `end` after it.
    private func codes(in text: String, from start: String, to end: String) throws -> Set<Int> {
        let from = try #require(text.range(of: start), "no \(start)")
        let to = try #require(text.range(of: end, range: from.upperBound..<text.endIndex), "no \(end) after \(start)")
        let block = text[from.upperBound..<to.lowerBound]
        return Set(block.matches(of: /\b([1-4]\d{3})\b/).compactMap { Int($0.output.1) })
    }

    @Test func theProtocolsTableNamesExactlyTheCodesTheHubSends() throws {
        let protocolText = try text("docs/PROTOCOL.md")
        // The code column of each row of the table under "### Close codes".
        let section = try #require(protocolText.range(of: "### Close codes"))
        let end = try #require(protocolText.range(of: "\n## ", range: section.upperBound..<protocolText.endIndex))
        var table: Set<Int> = []
        for line in protocolText[section.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("| ")
        {
            let cell = line.dropFirst(2).prefix { $0 != "|" }
            table.formUnion(cell.matches(of: /\d{4}/).compactMap { Int($0.output) })
        }
        #expect(table == Self.sent)
    }

    @Test func bothClientsKnowEveryCodeTheHubSends() throws {
        let javaScript = try codes(
            in: try text("clients/js/tickerhub-client.js"), from: "export const CloseCodes", to: "});")
        #expect(
            Self.sent.subtracting(javaScript).isEmpty,
            "the JavaScript client's CloseCodes lack \(Self.sent.subtracting(javaScript).sorted())")
        let python = try codes(
            in: try text("clients/python/tickerhub_client/client.py"), from: "CLOSE_CODES = {", to: "\n}")
        #expect(
            python == Self.sent,
            "the Python client's CLOSE_CODES differ: \(python.symmetricDifference(Self.sent).sorted())")
    }

    @Test func aRefusedBrowserHandshakeIsFourThousandPlusItsStatus() {
        #expect(CloseCode.refusedHandshake(httpStatus: 503).rawValue == 4503)
        #expect(CloseCode.slowConsumer.description == "4008 slow consumer")
    }
}
