// The floor: the least a server can do to deliver the benchmark's market, as a yardstick for the
// others (issue 25). One thread, one epoll, no framework: each tick's message is framed once, and
// written to each subscriber with one send(2) of those ready bytes. Nothing else: no batching of
// several messages into one write, no compression, no conflation, no keep-alive. So its deliveries
// per CPU-second are what one system call per delivery costs on this machine, and a server that
// beats it does so by putting several messages into one write.
//
// It speaks the subset of tickerhub.v1 the load generators drive (welcome, list, subscribe with ack
// and snapshots, updates with per-symbol seq and ts in ns) and replays the tick script every server
// of a comparison replays (`feedsim ticks`, see Benchmarks/e2e/servers.py), each tick stamped with
// the time it was due, so a fan-out that falls behind shows as latency. A socket that does not take
// a whole frame gets the rest from a backlog on EPOLLOUT; past 128 KiB of backlog its frames are
// dropped (counted), like the other peers' slow-socket rule. Any HTTP request that is not an
// upgrade gets {"deliveries":N,"drops":N}.
//
//   cc -O2 -o floor-hub floor.c && ./floor-hub --port 18600 --rate 1000 --ticks ticks.txt
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sha1.h"

enum { MAX_FDS = 65536, READ_CAPACITY = 1024, BACKLOG_LIMIT = 128 * 1024, MAX_FRAME = 4096 };

typedef struct {
    bool open;        // an accepted connection
    bool upgraded;    // past the handshake: frames from here on
    uint32_t read_length;
    uint8_t *read;    // READ_CAPACITY bytes while open
    uint8_t *backlog; // bytes a send did not take, written on EPOLLOUT
    uint32_t backlog_length, backlog_capacity;
    int *mine;        // the symbols it subscribed to, to leave their lists on close
    int mine_count, mine_capacity;
} Connection;

typedef struct { int *fds; int count, capacity; } FdList;
typedef struct { char type[12]; int index; char *fields; } Tick;

static Connection g_connections[MAX_FDS];
static int g_epoll;
static char **g_names;
static int g_symbol_count;
static char **g_latest_quote;  // each symbol's latest quote fields, for snapshots
static uint64_t *g_seq, *g_last_ts;
static FdList *g_subscribers;
static Tick *g_ticks;
static int g_tick_count;
static uint64_t g_deliveries, g_drops;

static void die(const char *message) { perror(message); exit(1); }

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t wall_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void *grow(void *items, int *capacity, int needed, size_t size) {
    if (needed <= *capacity) return items;
    while (*capacity < needed) *capacity = *capacity ? *capacity * 2 : 16;
    items = realloc(items, (size_t)*capacity * size);
    if (!items) die("realloc");
    return items;
}

// The script: "symbols A B ...", one opening quote per symbol, then "<type> <index> <fields>" lines.
static void load_script(const char *path) {
    FILE *file = fopen(path, "r");
    if (!file) die(path);
    char *line = NULL;
    size_t line_capacity = 0;
    ssize_t length;
    int names_capacity = 0, ticks_capacity = 0, opening = 0;
    while ((length = getline(&line, &line_capacity, file)) > 0) {
        if (line[length - 1] == '\n') line[--length] = 0;
        if (!g_names) {
            for (char *word = strtok(line + strlen("symbols "), " "); word; word = strtok(NULL, " ")) {
                g_names = grow(g_names, &names_capacity, g_symbol_count + 1, sizeof *g_names);
                g_names[g_symbol_count++] = strdup(word);
            }
            g_latest_quote = calloc((size_t)g_symbol_count, sizeof *g_latest_quote);
            g_seq = calloc((size_t)g_symbol_count, sizeof *g_seq);
            g_last_ts = calloc((size_t)g_symbol_count, sizeof *g_last_ts);
            g_subscribers = calloc((size_t)g_symbol_count, sizeof *g_subscribers);
            continue;
        }
        Tick tick = {0};
        char *first = strchr(line, ' '), *second = first ? strchr(first + 1, ' ') : NULL;
        if (!second || first - line >= (long)sizeof tick.type) { fprintf(stderr, "bad script line: %s\n", line); exit(1); }
        memcpy(tick.type, line, (size_t)(first - line));
        tick.index = atoi(first + 1);
        tick.fields = strdup(second + 1);
        if (tick.index < 0 || tick.index >= g_symbol_count) { fprintf(stderr, "bad symbol index: %s\n", line); exit(1); }
        if (opening < g_symbol_count) {
            g_latest_quote[tick.index] = tick.fields;
            g_seq[tick.index] = 1;
            opening++;
            continue;
        }
        g_ticks = grow(g_ticks, &ticks_capacity, g_tick_count + 1, sizeof *g_ticks);
        g_ticks[g_tick_count++] = tick;
    }
    free(line);
    fclose(file);
    if (g_symbol_count == 0 || g_tick_count == 0) { fprintf(stderr, "%s: no symbols or no ticks\n", path); exit(1); }
}

static size_t frame_header(uint8_t *out, size_t payload_length) {
    out[0] = 0x81;  // FIN, text
    if (payload_length < 126) { out[1] = (uint8_t)payload_length; return 2; }
    out[1] = 126;
    out[2] = (uint8_t)(payload_length >> 8);
    out[3] = (uint8_t)payload_length;
    return 4;
}

static void close_connection(int fd) {
    Connection *c = &g_connections[fd];
    for (int i = 0; i < c->mine_count; i++) {
        FdList *list = &g_subscribers[c->mine[i]];
        for (int j = 0; j < list->count; j++)
            if (list->fds[j] == fd) { list->fds[j] = list->fds[--list->count]; break; }
    }
    free(c->read);
    free(c->backlog);
    free(c->mine);
    memset(c, 0, sizeof *c);
    close(fd);  // also leaves the epoll set
}

static void keep_in_backlog(int fd, const uint8_t *bytes, size_t length) {
    Connection *c = &g_connections[fd];
    if (c->backlog_length + length > c->backlog_capacity) {
        int capacity = (int)c->backlog_capacity;
        c->backlog = grow(c->backlog, &capacity, (int)(c->backlog_length + length), 1);
        c->backlog_capacity = (uint32_t)capacity;
    }
    memcpy(c->backlog + c->backlog_length, bytes, length);
    c->backlog_length += (uint32_t)length;
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
    epoll_ctl(g_epoll, EPOLL_CTL_MOD, fd, &event);
}

// One send of ready bytes; what the socket does not take waits in the connection's backlog. Returns
// false when the connection was closed.
static bool send_frame(int fd, const uint8_t *bytes, size_t length) {
    Connection *c = &g_connections[fd];
    if (c->backlog_length > 0) {
        if (c->backlog_length + length > BACKLOG_LIMIT) { g_drops++; return true; }
        keep_in_backlog(fd, bytes, length);
        return true;
    }
    ssize_t sent = send(fd, bytes, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) { close_connection(fd); return false; }
        sent = 0;
    }
    if ((size_t)sent < length) keep_in_backlog(fd, bytes + sent, length - (size_t)sent);
    return true;
}

static void send_text(int fd, const char *text, size_t length) {
    uint8_t frame[MAX_FRAME + 8];
    if (length > MAX_FRAME) { fprintf(stderr, "message too long\n"); return; }
    size_t header = frame_header(frame, length);
    memcpy(frame + header, text, length);
    send_frame(fd, frame, header + length);
}

static int message_text(char *out, size_t capacity, const char *type, int symbol, uint64_t ts, const char *fields) {
    return snprintf(out, capacity, "{\"type\":\"%s\",\"symbol\":\"%s\",\"seq\":%llu,\"ts\":%llu,%s}", type, g_names[symbol],
                    (unsigned long long)g_seq[symbol], (unsigned long long)ts, fields);
}

// Where the value of `"key":` starts in a JSON object (whitespace allowed around the colon), or NULL.
static const char *value_of(const char *text, size_t length, const char *key) {
    char quoted[32];
    int n = snprintf(quoted, sizeof quoted, "\"%s\"", key);
    const char *at = memmem(text, length, quoted, (size_t)n), *end = text + length;
    if (!at) return NULL;
    for (at += n; at < end && (*at == ' ' || *at == ':'); at++) {}
    return at < end ? at : NULL;
}

static bool op_is(const char *text, size_t length, const char *op) {
    const char *value = value_of(text, length, "op");
    size_t n = strlen(op);
    return value && (size_t)(text + length - value) >= n + 2 && value[0] == '"' && !memcmp(value + 1, op, n) && value[n + 1] == '"';
}

// Answers "list" with the symbols, and "subscribe" with an ack and a snapshot per known symbol.
static void handle_request(int fd, const char *text, size_t length) {
    char id[32] = "0";
    const char *id_at = value_of(text, length, "id");
    if (id_at && strspn(id_at, "0123456789") > 0) snprintf(id, sizeof id, "%.*s", (int)strspn(id_at, "0123456789"), id_at);
    if (op_is(text, length, "list")) {
        size_t capacity = 64 + (size_t)g_symbol_count * 16, n = 0;
        char *reply = malloc(capacity);
        n += (size_t)snprintf(reply, capacity, "{\"type\":\"symbols\",\"id\":%s,\"symbols\":[", id);
        for (int i = 0; i < g_symbol_count; i++) n += (size_t)snprintf(reply + n, capacity - n, "%s\"%s\"", i ? "," : "", g_names[i]);
        n += (size_t)snprintf(reply + n, capacity - n, "]}");
        // The list is longer than one small frame: send it with a 16-bit length.
        uint8_t *frame = malloc(n + 4);
        size_t header = frame_header(frame, n);
        memcpy(frame + header, reply, n);
        send_frame(fd, frame, header + n);
        free(frame);
        free(reply);
        return;
    }
    if (!op_is(text, length, "subscribe")) return;
    const char *array = value_of(text, length, "symbols");
    char ack[96];
    send_text(fd, ack, (size_t)snprintf(ack, sizeof ack, "{\"type\":\"ack\",\"id\":%s,\"op\":\"subscribe\"}", id));
    const char *end = text + length;
    for (const char *at = array && *array == '[' ? array + 1 : end; at < end && *at != ']';) {
        const char *open = memchr(at, '"', (size_t)(end - at));
        const char *close = open ? memchr(open + 1, '"', (size_t)(end - open - 1)) : NULL;
        if (!close) break;
        for (int i = 0; i < g_symbol_count; i++) {
            if (strlen(g_names[i]) != (size_t)(close - open - 1) || memcmp(g_names[i], open + 1, (size_t)(close - open - 1))) continue;
            Connection *c = &g_connections[fd];
            c->mine = grow(c->mine, &c->mine_capacity, c->mine_count + 1, sizeof *c->mine);
            c->mine[c->mine_count++] = i;
            FdList *list = &g_subscribers[i];
            list->fds = grow(list->fds, &list->capacity, list->count + 1, sizeof *list->fds);
            list->fds[list->count++] = fd;
            char snapshot[MAX_FRAME];
            int n = message_text(snapshot, sizeof snapshot, "snapshot", i, g_last_ts[i] ? g_last_ts[i] : wall_ns(), g_latest_quote[i]);
            send_text(fd, snapshot, (size_t)n);
            break;
        }
        at = close + 1;
    }
}

static void answer_http(int fd, const char *request) {
    char response[512];
    const char *key = strcasestr(request, "\nSec-WebSocket-Key:");
    if (!strcasestr(request, "\nUpgrade: websocket") || !key) {
        char body[128];
        int body_length = snprintf(body, sizeof body, "{\"deliveries\":%llu,\"drops\":%llu}", (unsigned long long)g_deliveries,
                                   (unsigned long long)g_drops);
        int n = snprintf(response, sizeof response,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                         body_length, body);
        send(fd, response, (size_t)n, MSG_NOSIGNAL);
        close_connection(fd);
        return;
    }
    key += strlen("\nSec-WebSocket-Key:");
    key += strspn(key, " ");
    char accept[29];
    websocket_accept(key, strcspn(key, "\r\n "), accept);
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    send_frame(fd, (const uint8_t *)response, (size_t)n);
    g_connections[fd].upgraded = true;
    const char *welcome = "{\"type\":\"welcome\",\"protocol\":\"tickerhub.v1\",\"heartbeatMs\":0}";
    send_text(fd, welcome, strlen(welcome));
}

// Takes the complete frames (masked, from the client) at the front of the read buffer.
static void read_frames(int fd) {
    Connection *c = &g_connections[fd];
    uint32_t at = 0;
    while (c->open && c->read_length - at >= 6) {
        uint8_t *bytes = c->read + at;
        uint64_t length = bytes[1] & 0x7f;
        uint32_t header = 2;
        if (length == 126) { length = (uint64_t)bytes[2] << 8 | bytes[3]; header = 4; }
        else if (length == 127) { close_connection(fd); return; }  // no request is that long
        if (!(bytes[1] & 0x80)) { close_connection(fd); return; }  // clients must mask
        if (c->read_length - at < header + 4 + length) break;
        uint8_t *mask = bytes + header, *payload = mask + 4;
        for (uint64_t i = 0; i < length; i++) payload[i] ^= mask[i & 3];
        uint8_t opcode = bytes[0] & 0x0f;
        if (opcode == 0x8) { close_connection(fd); return; }
        if (opcode == 0x1) handle_request(fd, (const char *)payload, (size_t)length);
        at += header + 4 + (uint32_t)length;
    }
    if (!c->open) return;
    memmove(c->read, c->read + at, c->read_length - at);
    c->read_length -= at;
}

static void readable(int fd) {
    Connection *c = &g_connections[fd];
    for (;;) {
        if (c->read_length == READ_CAPACITY) { close_connection(fd); return; }
        ssize_t got = recv(fd, c->read + c->read_length, READ_CAPACITY - c->read_length - 1, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) { close_connection(fd); return; }
        if (got < 0) return;
        c->read_length += (uint32_t)got;
        c->read[c->read_length] = 0;  // the scans of a request (strstr, strspn) stop here
        if (!c->upgraded) {
            char *end = strstr((char *)c->read, "\r\n\r\n");
            if (!end) continue;
            *end = 0;
            uint32_t consumed = (uint32_t)(end + 4 - (char *)c->read);
            answer_http(fd, (const char *)c->read);
            if (!c->open) return;
            memmove(c->read, c->read + consumed, c->read_length - consumed);
            c->read_length -= consumed;
        }
        read_frames(fd);
        if (!c->open) return;
    }
}

static void writable(int fd) {
    Connection *c = &g_connections[fd];
    ssize_t sent = send(fd, c->backlog, c->backlog_length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { close_connection(fd); return; }
    if (sent <= 0) return;
    memmove(c->backlog, c->backlog + sent, c->backlog_length - (size_t)sent);
    c->backlog_length -= (uint32_t)sent;
    if (c->backlog_length == 0) {
        struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(g_epoll, EPOLL_CTL_MOD, fd, &event);
    }
}

static void accept_all(int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (fd >= MAX_FDS) { close(fd); continue; }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        g_connections[fd] = (Connection){.open = true, .read = malloc(READ_CAPACITY)};
        struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(g_epoll, EPOLL_CTL_ADD, fd, &event);
    }
}

// Publishes tick `number` of the script (counting from 1), stamped with the time it was due.
static void publish(uint64_t number, uint64_t due_wall) {
    const Tick *tick = &g_ticks[(number - 1) % (uint64_t)g_tick_count];
    int i = tick->index;
    g_seq[i] += 1;
    g_last_ts[i] = due_wall;
    if (tick->type[0] == 'q') g_latest_quote[i] = tick->fields;
    uint8_t frame[MAX_FRAME + 8];
    char *text = (char *)frame + 4;
    int n = message_text(text, MAX_FRAME, tick->type, i, due_wall, tick->fields);
    // The header goes right before the text, so the frame is one contiguous buffer.
    size_t header = n < 126 ? 2 : 4;
    uint8_t *start = frame + 4 - header;
    frame_header(start, (size_t)n);
    FdList *list = &g_subscribers[i];
    // Backwards: a connection closed by a failed send swaps the list's last entry into its place.
    for (int j = list->count - 1; j >= 0; j--) {
        if (j >= list->count) continue;
        if (send_frame(list->fds[j], start, header + (size_t)n)) g_deliveries++;
    }
}

int main(int argc, char **argv) {
    int port = 18600;
    double rate = 100;
    const char *script = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--ticks")) script = argv[i + 1];
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (!script || rate <= 0) { fprintf(stderr, "usage: floor-hub --port P --rate TICKS_PER_S --ticks FILE\n"); return 2; }
    load_script(script);

    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) die("listen");
    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(g_epoll, EPOLL_CTL_ADD, listener, &event);
    fprintf(stderr, "floor hub on %d, %d symbols, %d scripted ticks, %g ticks/s\n", port, g_symbol_count, g_tick_count, rate);

    uint64_t start = monotonic_ns(), start_wall = wall_ns(), generated = 0;
    const double interval_ns = 1e9 / rate;
    struct epoll_event events[256];
    for (;;) {
        uint64_t next_due = start + (uint64_t)((double)(generated + 1) * interval_ns), now = monotonic_ns();
        int timeout_ms = next_due <= now ? 0 : (int)((next_due - now + 999999) / 1000000);
        int count = epoll_wait(g_epoll, events, 256, timeout_ms);
        for (int e = 0; e < count; e++) {
            int fd = events[e].data.fd;
            if (fd == listener) { accept_all(listener); continue; }
            if (!g_connections[fd].open) continue;
            if (events[e].events & (EPOLLERR | EPOLLHUP)) { close_connection(fd); continue; }
            if (events[e].events & EPOLLOUT) writable(fd);
            if (g_connections[fd].open && (events[e].events & EPOLLIN)) readable(fd);
        }
        // Only the ticks due by now; new ones wait for the next turn, so sockets are served between.
        now = monotonic_ns();
        while (start + (uint64_t)((double)(generated + 1) * interval_ns) <= now) {
            generated++;
            publish(generated, start_wall + (uint64_t)((double)generated * interval_ns));
        }
    }
}
