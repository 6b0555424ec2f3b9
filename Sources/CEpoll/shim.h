// The Linux system calls the owned transport (EpollTransport) uses that Swift's Glibc module does
// not include: epoll, eventfd, and accept4 (a GNU extension, declared here so that it does not
// depend on _GNU_SOURCE). Part of libc, nothing to link.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
