#include "sha1.h"

#include <string.h>

static uint32_t rotate_left(uint32_t value, int bits) { return value << bits | value >> (32 - bits); }

static void sha1_block(uint32_t state[5], const uint8_t block[64]) {
    uint32_t w[80];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 | (uint32_t)block[4 * t + 2] << 8 | block[4 * t + 3];
    for (int t = 16; t < 80; t++) w[t] = rotate_left(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
        else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
        else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = b ^ c ^ d; k = 0xca62c1d6; }
        uint32_t temp = rotate_left(a, 5) + f + e + k + w[t];
        e = d; d = c; c = rotate_left(b, 30); b = a; a = temp;
    }
    state[0] += a; state[1] += b; state[2] += c; state[3] += d; state[4] += e;
}

void sha1(const uint8_t *bytes, size_t length, uint8_t digest[20]) {
    uint32_t state[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    size_t at = 0;
    for (; length - at >= 64; at += 64) sha1_block(state, bytes + at);
    // The padding: a 1 bit, zeros, and the message length in bits, in one or two last blocks.
    uint8_t tail[128] = {0};
    size_t rest = length - at;
    memcpy(tail, bytes + at, rest);
    tail[rest] = 0x80;
    size_t tail_length = rest < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) tail[tail_length - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t block = 0; block < tail_length; block += 64) sha1_block(state, tail + block);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) digest[4 * i + j] = (uint8_t)(state[i] >> (24 - 8 * j));
}

void websocket_accept(const char *key, size_t key_length, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t input[128], digest[20];
    if (key_length > sizeof input - (sizeof guid - 1)) key_length = sizeof input - (sizeof guid - 1);
    memcpy(input, key, key_length);
    memcpy(input + key_length, guid, sizeof guid - 1);
    sha1(input, key_length + sizeof guid - 1, digest);
    // 20 bytes: six groups of three, then two bytes and one '='.
    int n = 0;
    for (int i = 0; i < 18; i += 3) {
        uint32_t group = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8 | digest[i + 2];
        for (int j = 3; j >= 0; j--) out[n++] = alphabet[(group >> (6 * j)) & 63];
    }
    uint32_t group = (uint32_t)digest[18] << 16 | (uint32_t)digest[19] << 8;
    out[n++] = alphabet[(group >> 18) & 63];
    out[n++] = alphabet[(group >> 12) & 63];
    out[n++] = alphabet[(group >> 6) & 63];
    out[n++] = '=';
    out[n] = 0;
}
