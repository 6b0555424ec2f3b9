#include "symbols.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

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

int symbols_find(const Symbols *symbols, const char *bytes, size_t length) {
    uint32_t slot = name_hash(bytes, length) & (symbols->table_size - 1);
    while (symbols->table[slot] >= 0) {
        const char *name = symbols->names[symbols->table[slot]];
        if (strlen(name) == length && memcmp(name, bytes, length) == 0) return symbols->table[slot];
        slot = (slot + 1) & (symbols->table_size - 1);
    }
    return -1;
}

// A blocking request on its own connection: the server's symbol names, from a "list" reply.
Symbols fetch_symbols(const Target *target) {
    Symbols symbols = {0};
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
                symbols.names = malloc(sizeof(char *) * capacity_names);
                while (array && array < end) {
                    const char *open = memchr(array, '"', (size_t)(end - array));
                    if (!open) break;
                    const char *close = memchr(open + 1, '"', (size_t)(end - open - 1));
                    if (!close) break;
                    if (symbols.count == capacity_names) symbols.names = realloc(symbols.names, sizeof(char *) * (capacity_names *= 2));
                    symbols.names[symbols.count++] = strndup(open + 1, (size_t)(close - open - 1));
                    array = close + 1;
                    if (*array == ']') break;
                }
                close(fd);
                free(bytes);
                if (symbols.count == 0) die("the server listed no symbols");
                symbols_index(&symbols);
                return symbols;
            }
            at += header + (size_t)payload;
        }
    }
}
