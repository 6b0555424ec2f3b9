import FeedModel
import Testing

@Suite struct PriceTests {
    @Test(arguments: [
        (Int64(1_891_200), UInt8(4), "189.1200"),
        (-5, 1, "-0.5"),
        (0, 4, "0.0000"),
        (7, 3, "0.007"),
        (42, 0, "42"),
        (Int64.max, 0, "9223372036854775807"),
        (Int64.min, 2, "-92233720368547758.08"),
    ])
    func formatsExactlyScaleDecimals(mantissa: Int64, scale: UInt8, text: String) {
        #expect(Price(mantissa: mantissa, scale: scale).description == text)
    }

    @Test func parsesWhatItPrints() {
        var generator = SeededGenerator(seed: 1)
        for _ in 0..<2_000 {
            let price = Price(
                mantissa: Int64(bitPattern: generator.next()) >> Int64(generator.next() % 60),
                scale: UInt8(generator.next() % 19))
            #expect(Price(price.description) == price)
        }
    }

    @Test(arguments: ["", "-", ".", "1.2.3", "1e5", "abc", "12a", "99999999999999999999", "0.1234567890123456789"])
    func rejectsMalformedText(_ text: String) {
        #expect(Price(text) == nil)
    }

    @Test func comparesAcrossScales() {
        #expect(Price("1.5")! < Price("1.51")!)
        #expect(Price("-2")! < Price("1.0000")!)
        #expect(Price("1.5")!.rescaled(to: 4) == Price(mantissa: 15_000, scale: 4))
        #expect(Price("1.55")!.rescaled(to: 1) == nil)  // would lose a digit
    }
}

@Suite struct SymbolTests {
    @Test(arguments: ["AAPL", "BRK.B", "BTC-USD", "ES_F", "EUR/USD", "A", "ABCDEFGHIJKLMNOP"])
    func acceptsTickers(_ name: String) {
        #expect(Symbol(name)?.name == name)
    }

    @Test(arguments: ["", "aapl", "AA PL", "ABCDEFGHIJKLMNOPQ", "\"", "AAPL\n", "ÄPFEL"])
    func rejectsNonTickers(_ name: String) {
        #expect(Symbol(name) == nil)
    }
}
