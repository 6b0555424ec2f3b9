// Small helpers every part of wsload uses: fatal errors, clocks, another process's CPU and memory,
// blocking sends, and the interrupt flag.
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <signal.h>

void die(const char *format, ...) __attribute__((noreturn, format(printf, 1, 2)));
uint64_t mono_ns(void);
uint64_t wall_ns(void);
double cpu_seconds_self(void);
// utime + stime of another process, from /proc/PID/stat; negative if it cannot be read.
double cpu_seconds_of(int pid);
// Resident memory of another process, from /proc/PID/statm; negative if it cannot be read.
long rss_kib_of(int pid);
// One send of all of `bytes`; false on a short write. Requests are tiny and sockets are fresh: a
// short write means the server is not reading.
bool send_all(int fd, const void *bytes, size_t length);

// Set by SIGINT or SIGTERM once `handle_signals` ran; the main loops stop when they see it.
extern volatile sig_atomic_t g_interrupted;
// Installs the interrupt handler and ignores SIGPIPE (a closed socket is an error return, not a death).
void handle_signals(void);
