#include "probe.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "histogram.h"
#include "util.h"

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

int run_probe(const ProbeOptions *o) {
    handle_signals();
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
