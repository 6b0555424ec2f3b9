// wsload: the neutral subscriber swarm of the end-to-end benchmark.
//
// One thread, one epoll set, raw sockets, no framework: so that on a 2-core machine the load costs
// as little as possible and the same for every server it measures. It speaks the subset of
// tickerhub.v1 every peer in Benchmarks/peers implements (welcome, list, subscribe with ack and
// snapshots, updates carrying "symbol", "seq" and "ts" in nanoseconds since the epoch).
//
//   wsload swarm --url ws://127.0.0.1:8080/ws --clients 1000 --subscribe 10 --duration 20
//                --warmup 5 --server-pid PID --json out.json
//   wsload probe --url ws://127.0.0.1:8080/ws --count 100 --interval-ms 100 --json probe.json
//   wsload probe --url http://127.0.0.1:8080/healthz --count 100 --interval-ms 100
//
// swarm: asks the server for its symbols (op "list"), then opens N clients and has client i
// subscribe to symbols (i*K + j) mod S, j < K: every symbol gets exactly N*K/S subscribers, so the
// offered load is rate * N*K/S deliveries per second whatever the server's activity skew. It parses
// every frame, takes the latency of each update from its "ts" (wall clock, read once per read()),
// counts seq gaps per (client, symbol), answers pings, and reports, for the measured window after
// the warm-up: clients connected, subscribed and still open at the end, deliveries per second,
// latency percentiles with the histogram, and the server's CPU from /proc/PID/stat.
//
// probe: opens one connection at a time, each on its own, and times from connect() to the status
// line of the response ("101" for ws://, any 2xx for http://): how long a new client waits to be
// admitted while the server is under load. Run it as its own process next to a swarm.
//
// The parts: util (helpers), histogram, wire (URL, handshake, frames, message scan), symbols (the
// "list" reply), swarm, probe; this file reads the command line.
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "swarm.h"
#include "util.h"

static void usage(void) {
    fprintf(stderr,
            "usage: wsload swarm --url ws://HOST:PORT/ws --clients N [--subscribe K] [--duration S] [--warmup S]\n"
            "                    [--server-pid PID] [--json FILE] [--max-frequency F] [--concurrency C]\n"
            "                    [--connect-timeout S] [--source-addresses 127.0.0.2-127.0.0.5] [--quiet]\n"
            "                    [--report FILE --report-every S] [--book-depth 10|25|100]\n"
            "       wsload probe --url ws://HOST:PORT/ws|http://HOST:PORT/PATH [--count N] [--interval-ms MS]\n"
            "                    [--timeout S] [--json FILE] [--quiet]\n");
    exit(2);
}

static uint32_t parse_ipv4(const char *text) {
    struct in_addr address;
    if (inet_pton(AF_INET, text, &address) != 1) die("not an IPv4 address: %s", text);
    return ntohl(address.s_addr);
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    bool probe = strcmp(argv[1], "probe") == 0;
    if (!probe && strcmp(argv[1], "swarm") != 0) usage();
    const char *url = NULL;
    SwarmOptions swarm_options = (SwarmOptions){.clients = 100, .subscribe = 10, .duration = 10, .warmup = 3, .concurrency = 256, .connect_timeout = 30};
    ProbeOptions probe_options = {.count = 50, .interval_ms = 100, .timeout_s = 10};
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        #define TAKE() (value ? (i++, value) : (die("%s needs a value", flag), ""))
        if (strcmp(flag, "--url") == 0) url = TAKE();
        else if (strcmp(flag, "--clients") == 0) swarm_options.clients = atoi(TAKE());
        else if (strcmp(flag, "--subscribe") == 0) swarm_options.subscribe = atoi(TAKE());
        else if (strcmp(flag, "--duration") == 0) swarm_options.duration = atof(TAKE());
        else if (strcmp(flag, "--warmup") == 0) swarm_options.warmup = atof(TAKE());
        else if (strcmp(flag, "--server-pid") == 0) swarm_options.server_pid = atoi(TAKE());
        else if (strcmp(flag, "--json") == 0) swarm_options.json_path = probe_options.json_path = TAKE();
        else if (strcmp(flag, "--max-frequency") == 0) swarm_options.max_frequency = atof(TAKE());
        else if (strcmp(flag, "--book-depth") == 0) swarm_options.book_depth = atoi(TAKE());
        else if (strcmp(flag, "--concurrency") == 0) swarm_options.concurrency = atoi(TAKE());
        else if (strcmp(flag, "--connect-timeout") == 0) swarm_options.connect_timeout = atof(TAKE());
        else if (strcmp(flag, "--count") == 0) probe_options.count = atoi(TAKE());
        else if (strcmp(flag, "--interval-ms") == 0) probe_options.interval_ms = atof(TAKE());
        else if (strcmp(flag, "--timeout") == 0) probe_options.timeout_s = atof(TAKE());
        else if (strcmp(flag, "--report") == 0) swarm_options.report_path = TAKE();
        else if (strcmp(flag, "--report-every") == 0) swarm_options.report_every = atof(TAKE());
        else if (strcmp(flag, "--quiet") == 0) swarm_options.quiet = probe_options.quiet = true;
        else if (strcmp(flag, "--source-addresses") == 0) {
            char range[64];
            snprintf(range, sizeof range, "%s", TAKE());
            char *dash = strchr(range, '-');
            if (dash) *dash = 0;
            swarm_options.source_first = parse_ipv4(range);
            uint32_t last = dash ? parse_ipv4(dash + 1) : swarm_options.source_first;
            if (last < swarm_options.source_first) die("bad source address range");
            swarm_options.source_count = last - swarm_options.source_first + 1;
        } else die("unknown flag %s", flag);
    }
    if (!url) usage();
    if (probe) {
        probe_options.target = parse_url(url);
        return run_probe(&probe_options);
    }
    swarm_options.target = parse_url(url);
    if (!swarm_options.target.websocket) die("swarm needs a ws:// URL");
    if (swarm_options.clients < 1 || swarm_options.subscribe < 1) die("--clients and --subscribe must be positive");
    return run_swarm(&swarm_options);
}
