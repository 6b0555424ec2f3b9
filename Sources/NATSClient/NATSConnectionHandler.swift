import NIOCore

/// The connection's pipeline end: hands each operation and each read's end to the client.
final class NATSConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NATSServerOperation

    private let client: NATSClient

    init(client: NATSClient) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.received(unwrapInboundIn(data), on: context.channel)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        client.readComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        client.writabilityChanged(context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.channelClosed(context.channel, reason: "connection closed")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client.onEvent?(.error("\(error)"))
        context.close(promise: nil)
    }
}
