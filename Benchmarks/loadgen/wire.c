#include "wire.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

Target parse_url(const char *url) {
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

int request_text(const Target *target, char *out, size_t capacity) {
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

// The mask is fixed: nothing here needs it secret.
size_t client_frame(uint8_t opcode, const uint8_t *payload, size_t length, uint8_t *out) {
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

const char *find_after(const char *bytes, size_t length, const char *needle) {
    const char *at = memmem(bytes, length, needle, strlen(needle));
    return at ? at + strlen(needle) : NULL;
}

static uint64_t integer_at(const char *at, const char *end) {
    uint64_t value = 0;
    while (at < end && *at >= '0' && *at <= '9') value = value * 10 + (uint64_t)(*at++ - '0');
    return value;
}

Scanned scan_message(const char *bytes, size_t length) {
    Scanned message = {.kind = MSG_OTHER};
    const char *end = bytes + length;
    const char *type = find_after(bytes, length, "\"type\":\"");
    if (!type || type >= end) return message;
    switch (*type) {
    case 'q': case 't': message.kind = MSG_UPDATE; break;
    // "book" is a book's snapshot (a fresh one after conflation too), "bookUpdate" its change.
    case 'b': message.kind = (type + 4 < end && type[4] == '"') ? MSG_SNAPSHOT : MSG_UPDATE; break;
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
