// The WebSocket handshake's one piece of cryptography (RFC 6455 §4.2.2): the accept value is
// base64(SHA-1(key + the protocol's GUID)). SHA-1 after FIPS 180-4 §6.1, written here so the floor
// links nothing but libc.
#pragma once
#include <stddef.h>
#include <stdint.h>

void sha1(const uint8_t *bytes, size_t length, uint8_t digest[20]);
// Writes the 28 characters of Sec-WebSocket-Accept for `key`, and a NUL.
void websocket_accept(const char *key, size_t key_length, char out[29]);
