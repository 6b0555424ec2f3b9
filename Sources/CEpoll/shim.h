// Linux's epoll and eventfd, which Swift's Glibc module does not include: the owned transport's
// event loop (EpollTransport). Part of libc, nothing to link.
#include <sys/epoll.h>
#include <sys/eventfd.h>
