import FeedModel
import NIOCore
import NIOHTTP1

/// A response to a plain HTTP request.
struct HTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: ByteBuffer
    /// Headers besides the ones every answer has (CORS, a challenge, Retry-After).
    var headers: [(String, String)] = []

    static func json(_ body: ByteBuffer, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", body: body)
    }

    static func text(_ text: String, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: ByteBuffer(string: text + "\n"))
    }

    static func error(_ status: HTTPResponseStatus, code: String, message: String) -> HTTPResponse {
        var json = JSONWriter(buffer: ByteBuffer())
        json.beginObject()
        json.field("code", code)
        json.field("message", message)
        json.endObject()
        return .json(json.buffer, status: status)
    }
}
