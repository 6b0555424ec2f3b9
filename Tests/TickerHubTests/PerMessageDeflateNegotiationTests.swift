import Testing
@testable import TickerHub

@Suite struct PerMessageDeflateNegotiationTests {
    let shared = PerMessageDeflateNegotiation(mode: .shared)
    let dedicated = PerMessageDeflateNegotiation(mode: .dedicated, dedicatedWindowBits: 11)

    @Test func browsersAndPythonWebsocketsGetSharedFrames() throws {
        // Chrome/Firefox and Python websockets offer exactly this.
        let agreement = try #require(shared.negotiate(["permessage-deflate; client_max_window_bits"]))
        #expect(
            agreement.responseHeader == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        #expect(agreement.usesSharedFrames)
    }

    @Test func offOrNoOfferMeansNoCompression() {
        #expect(PerMessageDeflateNegotiation(mode: .off).negotiate(["permessage-deflate"]) == nil)
        #expect(shared.negotiate([]) == nil)
        #expect(shared.negotiate(["x-webkit-deflate-frame"]) == nil)
    }

    @Test func theFirstAcceptableOfferWinsAcrossHeaderLinesAndCommas() throws {
        let agreement = try #require(
            shared.negotiate([
                "foo, permessage-deflate; bogus_parameter",  // declined: unknown parameter
                "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=\"15\"",
            ]))
        #expect(
            agreement.responseHeader
                == """
                permessage-deflate; server_no_context_takeover; server_max_window_bits=15;\
                 client_no_context_takeover
                """
        )
        #expect(agreement.serverWindowBits == 15 && agreement.usesSharedFrames)
    }

    /// Issue 13, defect 5: a window below 15 bought a compressor (and a compression per delivery)
    /// for one client even in shared mode. Now shared mode declines such an offer: every deflate
    /// client takes the shared frames, or runs uncompressed.
    @Test func sharedModeDeclinesAWindowItsSharedFramesCannotHonour() throws {
        for bits in 9...14 {
            #expect(shared.negotiate(["permessage-deflate; server_max_window_bits=\(bits)"]) == nil)
            #expect(
                dedicated.negotiate(["permessage-deflate; server_max_window_bits=\(bits)"])?.serverWindowBits
                    == Int32(min(bits, 11)))
        }
        let fallback = try #require(
            shared.negotiate(["permessage-deflate; server_max_window_bits=10, permessage-deflate"]))
        #expect(
            fallback.usesSharedFrames
                && fallback.responseHeader
                    == "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        )
    }

    @Test(arguments: [
        "permessage-deflate; server_no_context_takeover=1",  // no value allowed
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",  // repeated
        "permessage-deflate; server_max_window_bits",  // value required
        "permessage-deflate; server_max_window_bits=16",  // out of range
        "permessage-deflate; server_max_window_bits=08",  // leading zero
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=8",  // zlib cannot honour 8
        "permessage-deflate; mystery",
    ])
    func malformedOrUnhonourableOffersAreDeclined(_ offer: String) {
        #expect(shared.negotiate([offer]) == nil)
        #expect(dedicated.negotiate([offer]) == nil)
    }

    @Test func dedicatedKeepsContextUnlessAskedAndBoundsTheWindow() throws {
        let takeover = try #require(dedicated.negotiate(["permessage-deflate; client_max_window_bits=10"]))
        #expect(!takeover.serverNoContextTakeover && takeover.serverWindowBits == 11)
        #expect(takeover.responseHeader == "permessage-deflate; server_max_window_bits=11; client_no_context_takeover")
        let noTakeover = try #require(
            dedicated.negotiate(["permessage-deflate; server_no_context_takeover; server_max_window_bits=9"]))
        #expect(noTakeover.serverNoContextTakeover && noTakeover.serverWindowBits == 9)
    }

    @Test func parsingIsCaseInsensitiveAndToleratesSpaces() throws {
        let offers = PerMessageDeflateNegotiation.offers(in: [
            "  PerMessage-Deflate ;Client_Max_Window_Bits = 15 ; server_no_context_takeover"
        ])
        #expect(offers.count == 1)
        #expect(offers[0].map(\.name) == ["client_max_window_bits", "server_no_context_takeover"])
        #expect(offers[0].map(\.value) == ["15", nil])
    }
}
