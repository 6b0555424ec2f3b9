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
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

// ---------------------------------------------------------------------------------------------
// Small helpers

static void die(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fprintf(stderr, "wsload: ");
    vfprintf(stderr, format, args);
    fprintf(stderr, "\n");
    va_end(args);
    exit(2);
}

static uint64_t clock_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
static uint64_t mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
static uint64_t wall_ns(void) { return clock_ns(CLOCK_REALTIME); }

static double cpu_seconds_self(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

// utime + stime of another process, from /proc/PID/stat; negative if it cannot be read.
static double cpu_seconds_of(int pid) {
    if (pid <= 0) return -1;
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = 0;
    char *close = strrchr(text, ')');  // the command name may hold spaces
    if (!close) return -1;
    unsigned long long utime = 0, stime = 0;
    // After ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
    if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kib_of(int pid) {
    if (pid <= 0) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    long pages = 0, resident = 0;
    int fields = fscanf(file, "%ld %ld", &pages, &resident);
    fclose(file);
    return fields == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}


// ---------------------------------------------------------------------------------------------
// Latency histogram: log-linear, 128 sub-buckets per power of two (under 1% error), microseconds.

#define SUB_BITS 7
#define SUB_COUNT (1 << SUB_BITS)
#define OCTAVES 40
typedef struct { uint64_t counts[OCTAVES * SUB_COUNT]; uint64_t total; } Histogram;

static int bucket_of(uint64_t value) {
    if (value < SUB_COUNT) return (int)value;
    int octave = 63 - __builtin_clzll(value) - SUB_BITS + 1;  // >= 1
    int sub = (int)(value >> octave);                          // in [SUB_COUNT/2, SUB_COUNT)
    int index = octave * (SUB_COUNT / 2) + sub;
    return index < OCTAVES * SUB_COUNT ? index : OCTAVES * SUB_COUNT - 1;
}

// The largest value a bucket holds: percentiles are reported on the safe side.
static uint64_t bucket_high(int index) {
    if (index < SUB_COUNT) return (uint64_t)index;
    int octave = index / (SUB_COUNT / 2) - 1;
    int sub = index - octave * (SUB_COUNT / 2);
    while (sub >= SUB_COUNT) { sub -= SUB_COUNT / 2; octave += 1; }
    return (((uint64_t)sub + 1) << octave) - 1;
}

static void histogram_record(Histogram *h, uint64_t micros) {
    h->counts[bucket_of(micros)] += 1;
    h->total += 1;
}

static double histogram_percentile_ms(const Histogram *h, double q) {
    if (h->total == 0) return NAN;
    uint64_t threshold = (uint64_t)ceil((double)h->total * q / 100.0);
    if (threshold < 1) threshold = 1;
    uint64_t seen = 0;
    for (int i = 0; i < OCTAVES * SUB_COUNT; i++) {
        seen += h->counts[i];
        if (seen >= threshold) return bucket_high(i) / 1000.0;
    }
    return NAN;
}

// ---------------------------------------------------------------------------------------------
// URL and handshake

typedef struct { char host[256]; int port; char path[512]; bool websocket; struct sockaddr_in address; } Target;

static Target parse_url(const char *url) {
    Target target = {.port = 80, .websocket = true};
    const char *rest;
    if (strncmp(url, "ws://", 5) == 0) rest = url + 5;
    else if (strncmp(url, "http://", 7) == 0) { rest = url + 7; target.websocket = false; }
    else die("only ws:// and http:// URLs: %s", url);
    const char *slash = strchr(rest, '/');
    const char *colon = strchr(rest, ':');
    size_t host_length = (colon && (!slash || colon < slash)) ? (size_t)(colon - rest) : (slash ? (size_t)(slash - rest) : strlen(rest));
    if (host_length >= sizeof target.host) die("host too long");
    memcpy(target.host, rest, host_length);
    if (colon && (!slash || colon < slash)) target.port = atoi(colon + 1);
    snprintf(target.path, sizeof target.path, "%s", slash ? slash : "/");
    target.address.sin_family = AF_INET;
    target.address.sin_port = htons((uint16_t)target.port);
    if (inet_pton(AF_INET, strcmp(target.host, "localhost") == 0 ? "127.0.0.1" : target.host, &target.address.sin_addr) != 1)
        die("the host must be an IPv4 address: %s", target.host);
    return target;
}

static int request_text(const Target *target, char *out, size_t capacity) {
    if (target->websocket) {
        // Any 16 bytes, base64: the server's accept hash is not checked (the status line is).
        return snprintf(out, capacity,
                        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                        target->path, target->host, target->port);
    }
    return snprintf(out, capacity, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                    target->path, target->host, target->port);
}

// A masked client frame (RFC 6455 §5.3). The mask is fixed: nothing here needs it secret.
static size_t client_frame(uint8_t opcode, const uint8_t *payload, size_t length, uint8_t *out) {
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n = 0;
    out[n++] = 0x80 | opcode;
    if (length < 126) out[n++] = 0x80 | (uint8_t)length;
    else { out[n++] = 0x80 | 126; out[n++] = (uint8_t)(length >> 8); out[n++] = (uint8_t)length; }
    memcpy(out + n, mask, 4);
    n += 4;
    for (size_t i = 0; i < length; i++) out[n + i] = payload[i] ^ mask[i & 3];
    return n + length;
}

// ---------------------------------------------------------------------------------------------
// Symbols: names from the server's "list" reply, and a hash table from name to index.

typedef struct { char **names; int count; int *table; int table_size; } Symbols;

static uint32_t name_hash(const char *bytes, size_t length) {
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < length; i++) hash = (hash ^ (uint8_t)bytes[i]) * 16777619u;
    return hash;
}

static void symbols_index(Symbols *symbols) {
    symbols->table_size = 1;
    while (symbols->table_size < symbols->count * 4) symbols->table_size <<= 1;
    symbols->table = malloc(sizeof(int) * symbols->table_size);
    for (int i = 0; i < symbols->table_size; i++) symbols->table[i] = -1;
    for (int i = 0; i < symbols->count; i++) {
        uint32_t slot = name_hash(symbols->names[i], strlen(symbols->names[i])) & (symbols->table_size - 1);
        while (symbols->table[slot] >= 0) slot = (slot + 1) & (symbols->table_size - 1);
        symbols->table[slot] = i;
    }
}

static int symbols_find(const Symbols *symbols, const char *bytes, size_t length) {
    uint32_t slot = name_hash(bytes, length) & (symbols->table_size - 1);
    while (symbols->table[slot] >= 0) {
        const char *name = symbols->names[symbols->table[slot]];
        if (strlen(name) == length && memcmp(name, bytes, length) == 0) return symbols->table[slot];
        slot = (slot + 1) & (symbols->table_size - 1);
    }
    return -1;
}

// ---------------------------------------------------------------------------------------------
// Message scanning: the handful of fields measured, found by substring, not a JSON parse.

typedef enum { MSG_OTHER, MSG_UPDATE, MSG_CONFLATED, MSG_SNAPSHOT, MSG_HEARTBEAT, MSG_ACK, MSG_ERROR, MSG_WELCOME, MSG_SYMBOLS } Kind;

typedef struct { Kind kind; const char *symbol; size_t symbol_length; uint64_t seq; uint64_t ts; } Scanned;

static const char *find_after(const char *bytes, size_t length, const char *needle) {
    const char *at = memmem(bytes, length, needle, strlen(needle));
    return at ? at + strlen(needle) : NULL;
}

static uint64_t integer_at(const char *at, const char *end) {
    uint64_t value = 0;
    while (at < end && *at >= '0' && *at <= '9') value = value * 10 + (uint64_t)(*at++ - '0');
    return value;
}

static Scanned scan_message(const char *bytes, size_t length) {
    Scanned message = {.kind = MSG_OTHER};
    const char *end = bytes + length;
    const char *type = find_after(bytes, length, "\"type\":\"");
    if (!type || type >= end) return message;
    switch (*type) {
    case 'q': case 't': message.kind = MSG_UPDATE; break;
    case 'c': message.kind = MSG_CONFLATED; break;
    case 's': message.kind = (type + 1 < end && type[1] == 'n') ? MSG_SNAPSHOT : (type + 1 < end && type[1] == 'y') ? MSG_SYMBOLS : MSG_OTHER; break;
    case 'h': message.kind = MSG_HEARTBEAT; break;
    case 'a': message.kind = MSG_ACK; break;
    case 'e': message.kind = MSG_ERROR; break;
    case 'w': message.kind = MSG_WELCOME; break;
    default: return message;
    }
    if (message.kind != MSG_UPDATE && message.kind != MSG_CONFLATED && message.kind != MSG_SNAPSHOT) return message;
    const char *symbol = find_after(type, (size_t)(end - type), "\"symbol\":\"");
    if (!symbol) return message;
    const char *quote = memchr(symbol, '"', (size_t)(end - symbol));
    if (!quote) return message;
    message.symbol = symbol;
    message.symbol_length = (size_t)(quote - symbol);
    const char *seq = find_after(quote, (size_t)(end - quote), "\"seq\":");
    if (seq) message.seq = integer_at(seq, end);
    const char *ts = find_after(quote, (size_t)(end - quote), "\"ts\":");
    if (ts) message.ts = integer_at(ts, end);
    return message;
}

// ---------------------------------------------------------------------------------------------
// The swarm

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
    Target target;
    int clients, subscribe, server_pid, concurrency;
    double duration, warmup, max_frequency, connect_timeout;
    const char *json_path;
    uint32_t source_first, source_count;  // source addresses, host order
    bool quiet;
} SwarmOptions;

typedef struct {
    // Over the whole run.
    uint64_t connected, subscribed, failed, refused_upgrades, closed_by_server, errors_received;
    uint64_t pings_answered;
    // In the measured window.
    uint64_t updates, conflated, snapshots, heartbeats, gap_messages, duplicates, bytes;
    // recv() calls that returned data: the server's writes, roughly (TCP may merge or split them).
    uint64_t reads;
    Histogram latency;
    // Connect (TCP + upgrade) times, ms; 101 times.
    Histogram upgrade;
} Totals;

static Symbols g_symbols;
static Client *g_clients;
static Totals g_totals;
static bool g_measuring;
static int g_epoll;
static SwarmOptions g_options;
static uint8_t g_read_buffer[1 << 18];
// Clients in their TCP or upgrade handshake; at most --concurrency at a time.
static int g_in_handshake;

static void client_close(Client *client, bool by_server) {
    if (client->state == C_CLOSED || client->state == C_IDLE) return;
    if (!g_options.quiet && client->state != C_OPEN && g_totals.failed < 10)
        fprintf(stderr, "wsload: a client failed in its %s (%s)\n", client->state == C_CONNECTING ? "TCP connect" : "upgrade",
                by_server ? "closed by the server" : errno ? strerror(errno) : "timed out");
    if (by_server && client->state == C_OPEN) g_totals.closed_by_server += 1;
    if (client->state == C_CONNECTING || client->state == C_UPGRADING) { g_totals.failed += 1; g_in_handshake -= 1; }
    epoll_ctl(g_epoll, EPOLL_CTL_DEL, client->fd, NULL);
    close(client->fd);
    client->fd = -1;
    client->state = C_CLOSED;
    free(client->carry);
    client->carry = NULL;
    client->carry_length = client->carry_capacity = 0;
}

static bool send_all(int fd, const void *bytes, size_t length) {
    // Requests are tiny and sockets are fresh: a short write here means the server is not reading.
    ssize_t written = send(fd, bytes, length, MSG_NOSIGNAL);
    return written == (ssize_t)length;
}

static void send_subscribe(Client *client) {
    char text[65536];
    int n = snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"id\":1,\"symbols\":[");
    for (int j = 0; j < g_options.subscribe; j++) {
        const char *name = g_symbols.names[(client->first_symbol + j) % g_symbols.count];
        n += snprintf(text + n, sizeof text - n, "%s\"%s\"", j ? "," : "", name);
    }
    if (g_options.max_frequency > 0) n += snprintf(text + n, sizeof text - n, "],\"maxFrequency\":%g}", g_options.max_frequency);
    else n += snprintf(text + n, sizeof text - n, "]}");
    uint8_t frame[65536 + 16];
    size_t length = client_frame(0x1, (const uint8_t *)text, (size_t)n, frame);
    if (!send_all(client->fd, frame, length)) client_close(client, true);
}

static void handle_message(Client *client, const char *payload, size_t length, uint64_t now_wall) {
    Scanned message = scan_message(payload, length);
    switch (message.kind) {
    case MSG_ACK:
        if (!client->subscribed) { client->subscribed = true; g_totals.subscribed += 1; }
        return;
    case MSG_HEARTBEAT:
        if (g_measuring) g_totals.heartbeats += 1;
        return;
    case MSG_ERROR:
        g_totals.errors_received += 1;
        return;
    case MSG_UPDATE: case MSG_CONFLATED: case MSG_SNAPSHOT: break;
    default: return;
    }
    int symbol = symbols_find(&g_symbols, message.symbol, message.symbol_length);
    int slot = symbol < 0 ? -1 : (symbol - client->first_symbol + g_symbols.count) % g_symbols.count;
    if (slot >= 0 && slot < g_options.subscribe) {
        uint64_t last = client->last_seq[slot];
        if (message.kind != MSG_SNAPSHOT && last != 0 && g_measuring) {
            if (message.seq > last + 1) g_totals.gap_messages += 1;
            else if (message.seq <= last) g_totals.duplicates += 1;
        }
        if (message.seq > last) client->last_seq[slot] = message.seq;
    }
    if (message.kind == MSG_SNAPSHOT) { if (g_measuring) g_totals.snapshots += 1; return; }
    if (!g_measuring) return;
    g_totals.updates += 1;
    if (message.kind == MSG_CONFLATED) g_totals.conflated += 1;
    if (message.ts > 0) histogram_record(&g_totals.latency, now_wall > message.ts ? (now_wall - message.ts) / 1000 : 0);
}

// Parses the complete frames in bytes[0..<length]; returns how many bytes it consumed.
static size_t parse_frames(Client *client, const uint8_t *bytes, size_t length, uint64_t now_wall) {
    size_t at = 0;
    while (length - at >= 2) {
        uint8_t first = bytes[at], second = bytes[at + 1];
        size_t header = 2;
        uint64_t payload = second & 0x7f;
        if (payload == 126) {
            if (length - at < 4) break;
            payload = (uint64_t)bytes[at + 2] << 8 | bytes[at + 3];
            header = 4;
        } else if (payload == 127) {
            if (length - at < 10) break;
            payload = 0;
            for (int i = 0; i < 8; i++) payload = payload << 8 | bytes[at + 2 + i];
            header = 10;
        }
        if (second & 0x80) { client_close(client, true); return length; }  // servers never mask
        if (length - at - header < payload) break;
        const uint8_t *data = bytes + at + header;
        uint8_t opcode = first & 0x0f;
        if (opcode == 0x1) {
            handle_message(client, (const char *)data, (size_t)payload, now_wall);
        } else if (opcode == 0x9) {  // ping: answer with the same payload
            uint8_t pong[160];
            if (payload <= 125) {
                size_t n = client_frame(0xA, data, (size_t)payload, pong);
                if (send_all(client->fd, pong, n)) g_totals.pings_answered += 1;
            }
        } else if (opcode == 0x8) {
            client->close_code = payload >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 1005;
            client_close(client, true);
            return length;
        }
        if (g_measuring) g_totals.bytes += header + payload;
        at += header + (size_t)payload;
    }
    return at;
}

static void carry_append(Client *client, const uint8_t *bytes, size_t length) {
    if (client->carry_length + length > client->carry_capacity) {
        uint32_t capacity = client->carry_capacity ? client->carry_capacity : 4096;
        while (capacity < client->carry_length + length) capacity *= 2;
        client->carry = realloc(client->carry, capacity);
        client->carry_capacity = capacity;
    }
    memcpy(client->carry + client->carry_length, bytes, length);
    client->carry_length += (uint32_t)length;
}

// Bytes after the HTTP response head of an upgrade: frames.
static void consume_frames(Client *client, const uint8_t *bytes, size_t length, uint64_t now_wall) {
    if (client->carry_length == 0) {
        size_t used = parse_frames(client, bytes, length, now_wall);
        if (client->state == C_OPEN && used < length) carry_append(client, bytes + used, length - used);
        return;
    }
    carry_append(client, bytes, length);
    size_t used = parse_frames(client, client->carry, client->carry_length, now_wall);
    if (client->state != C_OPEN) return;
    memmove(client->carry, client->carry + used, client->carry_length - used);
    client->carry_length -= (uint32_t)used;
    if (client->carry_length == 0 && client->carry_capacity > 65536) {  // do not keep a big buffer around
        free(client->carry);
        client->carry = NULL;
        client->carry_capacity = 0;
    }
}

static void on_upgrade_bytes(Client *client, const uint8_t *bytes, size_t length, uint64_t now_wall) {
    carry_append(client, bytes, length);
    const uint8_t *end = memmem(client->carry, client->carry_length, "\r\n\r\n", 4);
    if (!end) {
        if (client->carry_length > 16384) client_close(client, true);
        return;
    }
    size_t head = (size_t)(end - client->carry) + 4;
    if (client->carry_length < 12 || memcmp(client->carry + 9, "101", 3) != 0) {
        g_totals.refused_upgrades += 1;
        client_close(client, true);
        return;
    }
    client->state = C_OPEN;
    g_in_handshake -= 1;
    client->upgraded_ns = mono_ns();
    g_totals.connected += 1;
    histogram_record(&g_totals.upgrade, (client->upgraded_ns - client->started_ns) / 1000);
    send_subscribe(client);
    if (client->state != C_OPEN) return;
    uint32_t rest = client->carry_length - (uint32_t)head;
    uint8_t *carry = client->carry;
    client->carry = NULL;
    client->carry_length = client->carry_capacity = 0;
    if (rest > 0) consume_frames(client, carry + head, rest, now_wall);
    free(carry);
}

static bool start_connect(Client *client, int index) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (g_options.source_count > 0) {
        // Spread over several loopback source addresses past ~28k connections, and let connect()
        // pick the port (IP_BIND_ADDRESS_NO_PORT), so each address has the whole ephemeral range.
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in source = {.sin_family = AF_INET};
        source.sin_addr.s_addr = htonl(g_options.source_first + (uint32_t)index % g_options.source_count);
        if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) { close(fd); return false; }
    }
    client->fd = fd;
    client->started_ns = mono_ns();
    int result = connect(fd, (struct sockaddr *)&g_options.target.address, sizeof g_options.target.address);
    if (result != 0 && errno != EINPROGRESS) { close(fd); client->fd = -1; return false; }
    client->state = C_CONNECTING;
    g_in_handshake += 1;
    struct epoll_event event = {.events = EPOLLOUT, .data.u32 = (uint32_t)index};
    epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &event);
    return true;
}

static void on_connected(Client *client, int index) {
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(client->fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
        if (!g_options.quiet) fprintf(stderr, "wsload: connect failed: %s\n", strerror(error));
        client_close(client, false);
        return;
    }
    char request[1024];
    int n = request_text(&g_options.target, request, sizeof request);
    if (!send_all(client->fd, request, (size_t)n)) {
        if (!g_options.quiet) fprintf(stderr, "wsload: sending the upgrade failed: %s\n", strerror(errno));
        client_close(client, false);
        return;
    }
    client->state = C_UPGRADING;
    struct epoll_event event = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)index};
    epoll_ctl(g_epoll, EPOLL_CTL_MOD, client->fd, &event);
}

static void on_readable(Client *client) {
    for (int reads = 0; reads < 4; reads++) {
        ssize_t n = recv(client->fd, g_read_buffer, sizeof g_read_buffer, 0);
        if (n == 0) { client_close(client, true); return; }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) client_close(client, true);
            return;
        }
        uint64_t now_wall = wall_ns();
        if (g_measuring) g_totals.reads += 1;
        if (client->state == C_UPGRADING) on_upgrade_bytes(client, g_read_buffer, (size_t)n, now_wall);
        else if (client->state == C_OPEN) consume_frames(client, g_read_buffer, (size_t)n, now_wall);
        if (client->state != C_OPEN && client->state != C_UPGRADING) return;
        if ((size_t)n < sizeof g_read_buffer) return;
    }
}

// A blocking request on its own connection: the server's symbol names, from a "list" reply.
static void fetch_symbols(const Target *target) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (const struct sockaddr *)&target->address, sizeof target->address) != 0)
        die("cannot connect to %s:%d: %s", target->host, target->port, strerror(errno));
    struct timeval timeout = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char request[1024];
    int n = request_text(target, request, sizeof request);
    send_all(fd, request, (size_t)n);
    size_t capacity = 1 << 20, length = 0;
    uint8_t *bytes = malloc(capacity);
    bool sent_list = false;
    size_t frames_at = 0;
    for (;;) {
        if (length == capacity) bytes = realloc(bytes, capacity *= 2);
        ssize_t got = recv(fd, bytes + length, capacity - length, 0);
        if (got <= 0) die("the server closed or timed out before answering list");
        length += (size_t)got;
        if (!frames_at) {
            uint8_t *end = memmem(bytes, length, "\r\n\r\n", 4);
            if (!end) continue;
            if (memcmp(bytes + 9, "101", 3) != 0) die("the server refused the upgrade: %.40s", bytes);
            frames_at = (size_t)(end - bytes) + 4;
        }
        if (!sent_list) {
            const char *list = "{\"op\":\"list\",\"id\":1}";
            uint8_t frame[64];
            size_t frame_length = client_frame(0x1, (const uint8_t *)list, strlen(list), frame);
            send_all(fd, frame, frame_length);
            sent_list = true;
        }
        // Walk the frames received so far, looking for the "symbols" reply.
        size_t at = frames_at;
        while (length - at >= 2) {
            uint64_t payload = bytes[at + 1] & 0x7f;
            size_t header = 2;
            if (payload == 126) { if (length - at < 4) break; payload = (uint64_t)bytes[at + 2] << 8 | bytes[at + 3]; header = 4; }
            else if (payload == 127) { if (length - at < 10) break; payload = 0; for (int i = 0; i < 8; i++) payload = payload << 8 | bytes[at + 2 + i]; header = 10; }
            if (length - at - header < payload) break;
            const char *text = (const char *)bytes + at + header;
            if (scan_message(text, (size_t)payload).kind == MSG_SYMBOLS) {
                const char *array = find_after(text, (size_t)payload, "\"symbols\":[");
                const char *end = text + payload;
                int capacity_names = 1024;
                g_symbols.names = malloc(sizeof(char *) * capacity_names);
                while (array && array < end) {
                    const char *open = memchr(array, '"', (size_t)(end - array));
                    if (!open) break;
                    const char *close = memchr(open + 1, '"', (size_t)(end - open - 1));
                    if (!close) break;
                    if (g_symbols.count == capacity_names) g_symbols.names = realloc(g_symbols.names, sizeof(char *) * (capacity_names *= 2));
                    g_symbols.names[g_symbols.count++] = strndup(open + 1, (size_t)(close - open - 1));
                    array = close + 1;
                    if (*array == ']') break;
                }
                close(fd);
                free(bytes);
                if (g_symbols.count == 0) die("the server listed no symbols");
                symbols_index(&g_symbols);
                return;
            }
            at += header + (size_t)payload;
        }
    }
}

static volatile sig_atomic_t g_interrupted;
static void on_signal(int signal) { (void)signal; g_interrupted = 1; }

static void json_histogram(FILE *out, const Histogram *h) {
    fprintf(out, "[");
    bool first = true;
    for (int i = 0; i < OCTAVES * SUB_COUNT; i++) {
        if (!h->counts[i]) continue;
        fprintf(out, "%s[%" PRIu64 ",%" PRIu64 "]", first ? "" : ",", bucket_high(i), h->counts[i]);
        first = false;
    }
    fprintf(out, "]");
}

static void json_percentiles(FILE *out, const Histogram *h) {
    double p50 = histogram_percentile_ms(h, 50), p90 = histogram_percentile_ms(h, 90), p99 = histogram_percentile_ms(h, 99),
           p999 = histogram_percentile_ms(h, 99.9), max = histogram_percentile_ms(h, 100);
    if (h->total == 0) { fprintf(out, "{\"p50\":null,\"p90\":null,\"p99\":null,\"p999\":null,\"max\":null}"); return; }
    fprintf(out, "{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}", p50, p90, p99, p999, max);
}

static int run_swarm(void) {
    SwarmOptions *o = &g_options;
    if (getenv("WSLOAD_BATCH")) {
        struct sched_param param = {0};
        if (sched_setscheduler(0, SCHED_BATCH, &param) != 0) perror("sched_setscheduler");
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    fetch_symbols(&o->target);
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
                 "\"duration\":%g,\"warmup\":%g,\"maxFrequency\":%g,\"concurrency\":%d},",
            o->target.host, o->target.port, o->target.path, o->clients, o->subscribe, g_symbols.count, o->duration, o->warmup,
            o->max_frequency, o->concurrency);
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
                 ",\"heartbeats\":%" PRIu64 ",\"gapMessages\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"bytes\":%" PRIu64 ",",
            rate, g_totals.updates, g_totals.conflated, g_totals.snapshots, g_totals.heartbeats, g_totals.gap_messages,
            g_totals.duplicates, g_totals.bytes);
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

// ---------------------------------------------------------------------------------------------
// The admission probe

typedef struct { Target target; int count; double interval_ms, timeout_s; const char *json_path; bool quiet; } ProbeOptions;

// One probe: ms from connect() to the response's status line; negative when it failed.
static double probe_once(const ProbeOptions *o, int *status) {
    *status = 0;
    uint64_t start = mono_ns();
    uint64_t deadline = start + (uint64_t)(o->timeout_s * 1e9);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)&o->target.address, sizeof o->target.address) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd poller = {.fd = fd, .events = POLLOUT};
    bool sent = false;
    char response[4096];
    size_t length = 0;
    for (;;) {
        uint64_t now = mono_ns();
        if (now >= deadline) break;
        int ready = poll(&poller, 1, (int)((deadline - now) / 1000000) + 1);
        if (ready <= 0) continue;
        if (!sent) {
            int error = 0;
            socklen_t size = sizeof error;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
            if (error) break;
            char request[1024];
            int n = request_text(&o->target, request, sizeof request);
            if (!send_all(fd, request, (size_t)n)) break;
            sent = true;
            poller.events = POLLIN;
            continue;
        }
        ssize_t got = recv(fd, response + length, sizeof response - 1 - length, 0);
        if (got <= 0) break;
        length += (size_t)got;
        response[length] = 0;
        if (memchr(response, '\n', length)) {  // the status line is here
            double ms = (mono_ns() - start) / 1e6;
            *status = length >= 12 ? atoi(response + 9) : 0;
            close(fd);
            bool ok = o->target.websocket ? *status == 101 : (*status >= 200 && *status < 300);
            return ok ? ms : -ms;
        }
    }
    close(fd);
    return -1;
}

static int run_probe(const ProbeOptions *o) {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    Histogram *h = calloc(1, sizeof(Histogram));
    int failed = 0, done = 0;
    for (int i = 0; i < o->count && !g_interrupted; i++) {
        uint64_t begun = mono_ns();
        int status;
        double ms = probe_once(o, &status);
        done++;
        if (ms >= 0) histogram_record(h, (uint64_t)(ms * 1000));
        else failed++;
        uint64_t spent = mono_ns() - begun;
        double wait = o->interval_ms * 1e6 - (double)spent;
        if (wait > 0) { struct timespec pause = {.tv_sec = (time_t)(wait / 1e9), .tv_nsec = (long)fmod(wait, 1e9)}; nanosleep(&pause, NULL); }
    }
    FILE *out = stdout;
    if (o->json_path) { out = fopen(o->json_path, "w"); if (!out) die("cannot write %s", o->json_path); }
    fprintf(out, "{\"tool\":\"wsload-probe\",\"url\":\"%s://%s:%d%s\",\"probes\":%d,\"failed\":%d,\"ms\":",
            o->target.websocket ? "ws" : "http", o->target.host, o->target.port, o->target.path, done, failed);
    json_percentiles(out, h);
    fprintf(out, ",\"histogramMicros\":");
    json_histogram(out, h);
    fprintf(out, "}\n");
    if (out != stdout) fclose(out);
    if (!o->quiet)
        fprintf(stderr, "wsload probe %s: %d probes, %d failed, p50 %.2f p99 %.2f max %.2f ms\n", o->target.path, done, failed,
                histogram_percentile_ms(h, 50), histogram_percentile_ms(h, 99), histogram_percentile_ms(h, 100));
    return 0;
}

// ---------------------------------------------------------------------------------------------

static void usage(void) {
    fprintf(stderr,
            "usage: wsload swarm --url ws://HOST:PORT/ws --clients N [--subscribe K] [--duration S] [--warmup S]\n"
            "                    [--server-pid PID] [--json FILE] [--max-frequency F] [--concurrency C]\n"
            "                    [--connect-timeout S] [--source-addresses 127.0.0.2-127.0.0.5] [--quiet]\n"
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
    g_options = (SwarmOptions){.clients = 100, .subscribe = 10, .duration = 10, .warmup = 3, .concurrency = 256, .connect_timeout = 30};
    ProbeOptions probe_options = {.count = 50, .interval_ms = 100, .timeout_s = 10};
    for (int i = 2; i < argc; i++) {
        const char *flag = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        #define TAKE() (value ? (i++, value) : (die("%s needs a value", flag), ""))
        if (strcmp(flag, "--url") == 0) url = TAKE();
        else if (strcmp(flag, "--clients") == 0) g_options.clients = atoi(TAKE());
        else if (strcmp(flag, "--subscribe") == 0) g_options.subscribe = atoi(TAKE());
        else if (strcmp(flag, "--duration") == 0) g_options.duration = atof(TAKE());
        else if (strcmp(flag, "--warmup") == 0) g_options.warmup = atof(TAKE());
        else if (strcmp(flag, "--server-pid") == 0) g_options.server_pid = atoi(TAKE());
        else if (strcmp(flag, "--json") == 0) g_options.json_path = probe_options.json_path = TAKE();
        else if (strcmp(flag, "--max-frequency") == 0) g_options.max_frequency = atof(TAKE());
        else if (strcmp(flag, "--concurrency") == 0) g_options.concurrency = atoi(TAKE());
        else if (strcmp(flag, "--connect-timeout") == 0) g_options.connect_timeout = atof(TAKE());
        else if (strcmp(flag, "--count") == 0) probe_options.count = atoi(TAKE());
        else if (strcmp(flag, "--interval-ms") == 0) probe_options.interval_ms = atof(TAKE());
        else if (strcmp(flag, "--timeout") == 0) probe_options.timeout_s = atof(TAKE());
        else if (strcmp(flag, "--quiet") == 0) g_options.quiet = probe_options.quiet = true;
        else if (strcmp(flag, "--source-addresses") == 0) {
            char range[64];
            snprintf(range, sizeof range, "%s", TAKE());
            char *dash = strchr(range, '-');
            if (dash) *dash = 0;
            g_options.source_first = parse_ipv4(range);
            uint32_t last = dash ? parse_ipv4(dash + 1) : g_options.source_first;
            if (last < g_options.source_first) die("bad source address range");
            g_options.source_count = last - g_options.source_first + 1;
        } else die("unknown flag %s", flag);
    }
    if (!url) usage();
    if (probe) {
        probe_options.target = parse_url(url);
        return run_probe(&probe_options);
    }
    g_options.target = parse_url(url);
    if (!g_options.target.websocket) die("swarm needs a ws:// URL");
    if (g_options.clients < 1 || g_options.subscribe < 1) die("--clients and --subscribe must be positive");
    return run_swarm();
}
