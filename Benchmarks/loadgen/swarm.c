#include "swarm_state.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include <math.h>
#include <sched.h>

Symbols g_symbols;
Client *g_clients;
Totals g_totals;
bool g_measuring;
int g_epoll;
SwarmOptions g_options;
int g_in_handshake;

int run_swarm(const SwarmOptions *options) {
    g_options = *options;
    const SwarmOptions *o = &g_options;
    if (getenv("WSLOAD_BATCH")) {
        struct sched_param param = {0};
        if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) perror("sched_setscheduler");
    }
    handle_signals();
    g_symbols = fetch_symbols(&o->target);
    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    g_clients = calloc((size_t)o->clients, sizeof(Client));
    uint64_t *seqs = calloc((size_t)o->clients * (size_t)o->subscribe, sizeof(uint64_t));
    for (int i = 0; i < o->clients; i++) {
        g_clients[i].fd = -1;
        g_clients[i].first_symbol = (int)(((int64_t)i * o->subscribe) % g_symbols.count);
        g_clients[i].last_seq = seqs + (size_t)i * (size_t)o->subscribe;
    }
    if (!o->quiet) fprintf(stderr, "wsload: %d symbols; opening %d clients x %d symbols\n", g_symbols.count, o->clients, o->subscribe);

    const uint64_t started = mono_ns();
    const uint64_t window_start = started + (uint64_t)(o->warmup * 1e9);
    const uint64_t window_end = window_start + (uint64_t)(o->duration * 1e9);
    double server_cpu_start = -1, server_cpu_end = -1, self_cpu_start = 0, self_cpu_end = 0;
    uint64_t wall_start = 0, wall_end = 0, measured_start = 0, measured_end = 0;
    long server_rss_in_window = -1;
    int next_to_open = 0, oldest_unsettled = 0;
    uint64_t last_progress = started, last_timeout_check = started, ramp_end_ns = 0;
    struct epoll_event events[1024];
    FILE *report = NULL;
    uint64_t last_report = window_start;
    if (o->report_path && o->report_every > 0) {
        report = fopen(o->report_path, "w");
        if (!report) die("cannot write %s", o->report_path);
    }

    while (!g_interrupted) {
        uint64_t now = mono_ns();
        while (next_to_open < o->clients && g_in_handshake < o->concurrency) {
            if (!start_connect(&g_clients[next_to_open], next_to_open)) g_totals.failed += 1;
            next_to_open++;
        }
        if (next_to_open == o->clients && g_in_handshake == 0 && ramp_end_ns == 0) ramp_end_ns = now;
        // Ten times a second: clients stuck in their handshake past the connect timeout count as failed.
        if (now - last_timeout_check >= 100000000ull) {
            last_timeout_check = now;
            while (oldest_unsettled < next_to_open && g_clients[oldest_unsettled].state != C_CONNECTING &&
                   g_clients[oldest_unsettled].state != C_UPGRADING) oldest_unsettled++;
            for (int i = oldest_unsettled; i < next_to_open; i++) {
                Client *client = &g_clients[i];
                if ((client->state == C_CONNECTING || client->state == C_UPGRADING) && now > client->started_ns &&
                    now - client->started_ns > (uint64_t)(o->connect_timeout * 1e9)) client_close(client, false);
            }
        }
        if (!g_measuring && now >= window_start && measured_start == 0) {
            g_measuring = true;
            measured_start = now;
            wall_start = wall_ns();
            server_cpu_start = cpu_seconds_of(o->server_pid);
            self_cpu_start = cpu_seconds_self();
        }
        if (g_measuring && server_rss_in_window < 0 && now >= window_start + (window_end - window_start) / 2)
            server_rss_in_window = rss_kib_of(o->server_pid);
        if (now >= window_end) {
            g_measuring = false;
            measured_end = now;
            wall_end = wall_ns();
            server_cpu_end = cpu_seconds_of(o->server_pid);
            self_cpu_end = cpu_seconds_self();
            break;
        }
        if (report && g_measuring && now - last_report >= (uint64_t)(o->report_every * 1e9)) {
            last_report = now;
            uint64_t open = 0;
            for (int i = 0; i < o->clients; i++) open += g_clients[i].state == C_OPEN;
            fprintf(report, "{\"t\":%.1f,\"open\":%" PRIu64 ",\"updates\":%" PRIu64 ",\"gapMessages\":%" PRIu64
                            ",\"gapUpdates\":%" PRIu64 ",\"closedByServer\":%" PRIu64 ",\"latencyMs\":",
                    (now - window_start) / 1e9, open, g_totals.updates, g_totals.gap_messages, g_totals.gap_updates,
                    g_totals.closed_by_server);
            json_percentiles(report, &g_totals.interval_latency);
            fprintf(report, "}\n");
            fflush(report);
            memset(&g_totals.interval_latency, 0, sizeof g_totals.interval_latency);
        }
        if (!o->quiet && now - last_progress >= 1000000000ull) {
            last_progress = now;
            uint64_t open = 0;
            for (int i = 0; i < o->clients; i++) open += g_clients[i].state == C_OPEN;
            fprintf(stderr, "wsload: %5.1f s  open %" PRIu64 "  subscribed %" PRIu64 "  failed %" PRIu64 "  updates %" PRIu64 "\n",
                    (now - started) / 1e9, open, g_totals.subscribed, g_totals.failed, g_totals.updates);
        }
        int timeout_ms = 10;
        int ready = epoll_wait(g_epoll, events, 1024, timeout_ms);
        for (int e = 0; e < ready; e++) {
            Client *client = &g_clients[events[e].data.u32];
            if (client->state == C_CONNECTING) {
                on_connected(client, (int)events[e].data.u32);
            } else if (client->state == C_UPGRADING || client->state == C_OPEN) {
                if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) on_readable(client);
            }
        }
    }
    if (measured_end == 0) {  // interrupted
        measured_end = mono_ns();
        wall_end = wall_ns();
        server_cpu_end = cpu_seconds_of(o->server_pid);
        self_cpu_end = cpu_seconds_self();
        if (measured_start == 0) { measured_start = measured_end; wall_start = wall_end; server_cpu_start = server_cpu_end; }
    }

    uint64_t open = 0, subscribed_open = 0, never_connected = 0;
    for (int i = 0; i < o->clients; i++) {
        open += g_clients[i].state == C_OPEN;
        subscribed_open += g_clients[i].state == C_OPEN && g_clients[i].subscribed;
        never_connected += g_clients[i].upgraded_ns == 0;
    }
    double window = (measured_end - measured_start) / 1e9;
    double server_cpu = (server_cpu_start >= 0 && server_cpu_end >= 0) ? server_cpu_end - server_cpu_start : -1;
    double self_cpu = self_cpu_end - self_cpu_start;
    double rate = window > 0 ? g_totals.updates / window : 0;

    FILE *out = stdout;
    if (o->json_path) {
        out = fopen(o->json_path, "w");
        if (!out) die("cannot write %s", o->json_path);
    }
    fprintf(out, "{\"tool\":\"wsload\",\"config\":{\"url\":\"ws://%s:%d%s\",\"clients\":%d,\"subscribe\":%d,\"symbols\":%d,"
                 "\"duration\":%g,\"warmup\":%g,\"maxFrequency\":%g,\"concurrency\":%d,\"bookDepth\":%d},",
            o->target.host, o->target.port, o->target.path, o->clients, o->subscribe, g_symbols.count, o->duration, o->warmup,
            o->max_frequency, o->concurrency, o->book_depth);
    fprintf(out, "\"window\":{\"startUnixSeconds\":%.6f,\"endUnixSeconds\":%.6f,\"seconds\":%.3f},",
            wall_start / 1e9, wall_end / 1e9, window);
    fprintf(out, "\"connected\":%" PRIu64 ",\"subscribed\":%" PRIu64 ",\"openAtEnd\":%" PRIu64 ",\"subscribedOpenAtEnd\":%" PRIu64
                 ",\"neverConnected\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"refusedUpgrades\":%" PRIu64 ",\"closedByServer\":%" PRIu64
                 ",\"errorsReceived\":%" PRIu64 ",\"pingsAnswered\":%" PRIu64 ",\"rampSeconds\":%.3f,",
            g_totals.connected, g_totals.subscribed, open, subscribed_open, never_connected, g_totals.failed,
            g_totals.refused_upgrades, g_totals.closed_by_server, g_totals.errors_received, g_totals.pings_answered,
            ramp_end_ns ? (ramp_end_ns - started) / 1e9 : -1.0);
    fprintf(out, "\"reads\":%" PRIu64 ",\"messagesPerRead\":%.2f,", g_totals.reads,
            g_totals.reads ? (double)(g_totals.updates + g_totals.heartbeats) / (double)g_totals.reads : 0.0);
    fprintf(out, "\"messagesPerSecond\":%.0f,\"updates\":%" PRIu64 ",\"conflated\":%" PRIu64 ",\"snapshots\":%" PRIu64
                 ",\"heartbeats\":%" PRIu64 ",\"gapMessages\":%" PRIu64 ",\"gapUpdates\":%" PRIu64 ",\"duplicates\":%" PRIu64
                 ",\"bytes\":%" PRIu64 ",",
            rate, g_totals.updates, g_totals.conflated, g_totals.snapshots, g_totals.heartbeats, g_totals.gap_messages,
            g_totals.gap_updates, g_totals.duplicates, g_totals.bytes);
    fprintf(out, "\"serverPid\":%d,\"serverCpuSeconds\":%.3f,\"serverCpuCores\":%.3f,\"deliveriesPerServerCpuSecond\":%.0f,"
                 "\"serverRssKiB\":%ld,\"loadCpuSeconds\":%.3f,\"loadCpuCores\":%.3f,\"messagesPerLoadCpuSecond\":%.0f,",
            o->server_pid, server_cpu, server_cpu >= 0 && window > 0 ? server_cpu / window : -1.0,
            server_cpu > 0 ? g_totals.updates / server_cpu : -1.0, server_rss_in_window, self_cpu, window > 0 ? self_cpu / window : 0,
            self_cpu > 0 ? g_totals.updates / self_cpu : 0);
    fprintf(out, "\"latencyMs\":");
    json_percentiles(out, &g_totals.latency);
    fprintf(out, ",\"upgradeMs\":");
    json_percentiles(out, &g_totals.upgrade);
    fprintf(out, ",\"latencyHistogramMicros\":");
    json_histogram(out, &g_totals.latency);
    fprintf(out, "}\n");
    if (out != stdout) fclose(out);
    if (!o->quiet) {
        fprintf(stderr, "wsload: %" PRIu64 "/%d connected, %" PRIu64 " open at end, %.0f msg/s, p50 %.3f p99 %.3f p99.9 %.3f ms, "
                        "%" PRIu64 " gaps; server %.2f cores, %.0f deliveries/CPU-s; wsload %.2f cores\n",
                g_totals.connected, o->clients, open, rate, histogram_percentile_ms(&g_totals.latency, 50),
                histogram_percentile_ms(&g_totals.latency, 99), histogram_percentile_ms(&g_totals.latency, 99.9),
                g_totals.gap_messages, server_cpu >= 0 && window > 0 ? server_cpu / window : -1.0,
                server_cpu > 0 ? g_totals.updates / server_cpu : -1.0, window > 0 ? self_cpu / window : 0);
    }
    return 0;
}
