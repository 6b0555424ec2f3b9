import ArgumentParser

/// `feedsim`: the load tool. `swarm` subscribes, `publish` feeds, `ticks` writes the market for peer servers.
@main
struct FeedsimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feedsim",
        abstract: "Load tool for TickerHub: subscriber swarms and simulated publishers.",
        subcommands: [SwarmCommand.self, PublishCommand.self, TicksCommand.self]
    )
}
