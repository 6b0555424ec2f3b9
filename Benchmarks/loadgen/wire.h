// The WebSocket side of wsload: the target URL, the request that opens a connection, client frames,
// and the scan of a server message for the handful of fields measured.
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

typedef struct { char host[256]; int port; char path[512]; bool websocket; struct sockaddr_in address; } Target;

// ws://HOST:PORT/PATH or http://HOST:PORT/PATH, HOST an IPv4 address (or localhost); dies otherwise.
Target parse_url(const char *url);
// The HTTP request for `target`: a WebSocket upgrade for ws://, a plain GET for http://.
int request_text(const Target *target, char *out, size_t capacity);
// A masked client frame (RFC 6455 §5.3) of a payload under 64 KiB; returns its length.
size_t client_frame(uint8_t opcode, const uint8_t *payload, size_t length, uint8_t *out);

typedef enum { MSG_OTHER, MSG_UPDATE, MSG_CONFLATED, MSG_SNAPSHOT, MSG_HEARTBEAT, MSG_ACK, MSG_ERROR, MSG_WELCOME, MSG_SYMBOLS } Kind;

typedef struct { Kind kind; const char *symbol; size_t symbol_length; uint64_t seq; uint64_t ts; } Scanned;

// The message's kind and, for updates, conflated values and snapshots, its symbol, seq and ts:
// found by substring, not a JSON parse.
Scanned scan_message(const char *bytes, size_t length);
// Just after the first `needle` in `bytes`, or NULL.
const char *find_after(const char *bytes, size_t length, const char *needle);
