#include "swarm_state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static uint8_t g_read_buffer[1 << 18];

void client_close(Client *client, bool by_server) {
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

static void send_subscribe(Client *client) {
    char text[65536];
    int n = g_options.book_depth > 0
        ? snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"id\":1,\"channel\":\"book\",\"depth\":%d,\"symbols\":[", g_options.book_depth)
        : snprintf(text, sizeof text, "{\"op\":\"subscribe\",\"id\":1,\"symbols\":[");
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
            if (message.seq > last + 1) { g_totals.gap_messages += 1; g_totals.gap_updates += message.seq - last - 1; }
            else if (message.seq <= last) g_totals.duplicates += 1;
        }
        if (message.seq > last) client->last_seq[slot] = message.seq;
    }
    if (message.kind == MSG_SNAPSHOT) { if (g_measuring) g_totals.snapshots += 1; return; }
    if (!g_measuring) return;
    g_totals.updates += 1;
    if (message.kind == MSG_CONFLATED) g_totals.conflated += 1;
    if (message.ts > 0) {
        uint64_t micros = now_wall > message.ts ? (now_wall - message.ts) / 1000 : 0;
        histogram_record(&g_totals.latency, micros);
        histogram_record(&g_totals.interval_latency, micros);
    }
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

bool start_connect(Client *client, int index) {
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

void on_connected(Client *client, int index) {
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

void on_readable(Client *client) {
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
