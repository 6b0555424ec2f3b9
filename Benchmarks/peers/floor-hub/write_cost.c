// What one write of a ready ~150-byte frame costs on this machine, at the floor (issue 25): N real
// loopback TCP connections, one frame to each per round, the other ends drained between rounds
// outside the measurement. Compares the system calls a transport could use for the same writes:
//   write   one write(2) per socket (what NIO does)
//   send    one send(2, MSG_NOSIGNAL) per socket (the owned transport)
//   uring   io_uring: every socket's IORING_OP_SEND queued, then one io_uring_submit_and_wait for all
// and prints the process CPU per write (user and system) for each, as Markdown.
//
//   cc -O2 -o write-cost write_cost.c -luring && ./write-cost 1000 5000
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ROUNDS = 200, PER_ROUND = 1000 };

static int *g_served, *g_peers;
static char g_frame[150];

static void connect_pairs(int count) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, length) || listen(listener, 4096) ||
        getsockname(listener, (struct sockaddr *)&address, &length)) { perror("listen"); exit(1); }
    g_served = malloc(sizeof(int) * (size_t)count);
    g_peers = malloc(sizeof(int) * (size_t)count);
    for (int i = 0; i < count; i++) {
        g_peers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (connect(g_peers[i], (struct sockaddr *)&address, length) && errno != EINPROGRESS) { perror("connect"); exit(1); }
        g_served[i] = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
        if (g_served[i] < 0) { perror("accept"); exit(1); }
        int one = 1;
        setsockopt(g_served[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    close(listener);
}

static void drain(int count) {
    static char scratch[1 << 16];
    for (int i = 0; i < count; i++)
        while (recv(g_peers[i], scratch, sizeof scratch, MSG_DONTWAIT) > 0) {}
}

static double cpu_seconds(int who) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    struct timeval t = who == 0 ? usage.ru_utime : usage.ru_stime;
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

typedef void (*Round)(int from, int to);

static void with_write(int from, int to) {
    for (int i = from; i < to; i++)
        if (write(g_served[i], g_frame, sizeof g_frame) != (ssize_t)sizeof g_frame) { perror("write"); exit(1); }
}

static void with_send(int from, int to) {
    for (int i = from; i < to; i++)
        if (send(g_served[i], g_frame, sizeof g_frame, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof g_frame) { perror("send"); exit(1); }
}

static struct io_uring g_ring;

static void with_uring(int from, int to) {
    for (int i = from; i < to; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&g_ring);
        io_uring_prep_send(sqe, g_served[i], g_frame, sizeof g_frame, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    io_uring_submit_and_wait(&g_ring, (unsigned)(to - from));
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&g_ring, head, cqe) {
        if (cqe->res != (int)sizeof g_frame) { fprintf(stderr, "uring send: %d\n", cqe->res); exit(1); }
        seen++;
    }
    io_uring_cq_advance(&g_ring, seen);
}

static void measure(const char *name, int count, Round round) {
    double user = 0, system = 0;
    long writes = 0;
    int next = 0;
    for (int r = 0; r < ROUNDS; r++) {
        int from = next, to = from + PER_ROUND < count ? from + PER_ROUND : count;
        next = to == count ? 0 : to;
        double u0 = cpu_seconds(0), s0 = cpu_seconds(1);
        round(from, to);
        user += cpu_seconds(0) - u0;
        system += cpu_seconds(1) - s0;
        writes += to - from;
        drain(count);
    }
    printf("| %d | %s | %.2f | %.2f | %.2f |\n", count, name, user / (double)writes * 1e6, system / (double)writes * 1e6,
           (user + system) / (double)writes * 1e6);
}

int main(int argc, char **argv) {
    memset(g_frame, 'x', sizeof g_frame);
    g_frame[0] = (char)0x81;
    g_frame[1] = (char)(sizeof g_frame - 2);
    if (io_uring_queue_init(PER_ROUND * 2, &g_ring, 0)) { perror("io_uring_queue_init"); return 1; }
    printf("| sockets | syscall | user µs/write | system µs/write | total µs/write |\n|---|---|---|---|---|\n");
    for (int a = 1; a < argc; a++) {
        int count = atoi(argv[a]);
        connect_pairs(count);
        for (int repeat = 0; repeat < 3; repeat++) {
            measure("write", count, with_write);
            measure("send", count, with_send);
            measure("uring", count, with_uring);
        }
        for (int i = 0; i < count; i++) { close(g_served[i]); close(g_peers[i]); }
        free(g_served);
        free(g_peers);
    }
    return 0;
}
