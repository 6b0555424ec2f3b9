// The swarm's shared state, for its two halves: the clients (swarm_client.c: each connection's
// handshake, frames and message accounting) and the run (swarm.c: the loop, the window, the summary).
// One thread owns all of it.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "histogram.h"
#include "swarm.h"
#include "symbols.h"

typedef enum { C_IDLE, C_CONNECTING, C_UPGRADING, C_OPEN, C_CLOSED } ClientState;

typedef struct {
    int fd;
    ClientState state;
    bool subscribed;     // its ack arrived
    uint64_t started_ns; // connect() called (monotonic)
    uint64_t upgraded_ns;
    uint8_t *carry;      // bytes of an incomplete frame (or response head) from earlier reads
    uint32_t carry_length, carry_capacity;
    int first_symbol;    // subscribes to (first_symbol + j) mod S, j < K
    uint64_t *last_seq;  // per subscribed symbol, 0 until a snapshot or update
    uint16_t close_code;
} Client;

typedef struct {
    // Over the whole run.
    uint64_t connected, subscribed, failed, refused_upgrades, closed_by_server, errors_received;
    uint64_t pings_answered;
    // In the measured window.
    uint64_t updates, conflated, snapshots, heartbeats, gap_messages, duplicates, bytes;
    // Updates skipped, summed over the seq gaps (a gap from 7 to 10 is 2): what the hub counts as
    // dropped + throttled for these clients.
    uint64_t gap_updates;
    // recv() calls that returned data: the server's writes, roughly (TCP may merge or split them).
    uint64_t reads;
    Histogram latency;
    // Latency since the last interval report (`--report-every`).
    Histogram interval_latency;
    // Connect (TCP + upgrade) times, ms; 101 times.
    Histogram upgrade;
} Totals;

extern Symbols g_symbols;
extern Client *g_clients;
extern Totals g_totals;
// True during the measured window: only then do messages count.
extern bool g_measuring;
extern int g_epoll;
extern SwarmOptions g_options;
// Clients in their TCP or upgrade handshake; at most --concurrency at a time.
extern int g_in_handshake;

// Opens client `index`'s TCP connection (non-blocking); false if the socket could not be made.
bool start_connect(Client *client, int index);
// Its TCP connect finished (or failed): send the upgrade request.
void on_connected(Client *client, int index);
// Closes the client (counted as a failure if it never got through its handshake).
void client_close(Client *client, bool by_server);
// Bytes (or an error, or the end) to read on an upgrading or open client.
void on_readable(Client *client);
