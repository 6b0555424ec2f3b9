// The swarm: N subscriber clients on one epoll set, measured over a window after a warm-up.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

typedef struct {
    Target target;
    int clients, subscribe, server_pid, concurrency;
    int book_depth;  // > 0: subscribe to the symbols' order books at this depth, not their quotes
    double duration, warmup, max_frequency, connect_timeout;
    const char *json_path;
    // Every report_every seconds of the measured window, one JSON line to report_path (a soak's
    // minute-by-minute figures): cumulative updates and gaps, and the interval's latency.
    const char *report_path;
    double report_every;
    uint32_t source_first, source_count;  // source addresses, host order
    bool quiet;
} SwarmOptions;

// Runs the swarm and writes its summary (to `json_path`, or standard output); returns the exit status.
int run_swarm(const SwarmOptions *options);
