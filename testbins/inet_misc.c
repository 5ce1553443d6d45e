/* inet_misc: TCP shutdown semantics (SHUT_WR gives the peer EOF, a write after it EPIPE
 * with SIGPIPE, MSG_NOSIGNAL without), ECONNRESET after a peer closes with unread data,
 * epoll on a listener and on connections (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLET
 * read until EAGAIN),
 * options (SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_RCVBUF/SO_SNDBUF, SO_LINGER,
 * SO_TYPE, SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, TCP_NODELAY, TCP_KEEPIDLE, IP_TTL,
 * IPV6_V6ONLY), and the errnos of bad input: each is printed by name. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t pipes;

static void on_pipe(int sig)
{
    (void)sig;
    pipes++;
}

#define SHOW(call)                                                                        \
    do {                                                                                  \
        errno = 0;                                                                        \
        long r_ = (long)(call);                                                           \
        printf("%s = %ld %s\n", #call, r_ < 0 ? -1L : r_, r_ < 0 ? strerrorname_np(errno) : ""); \
        fflush(stdout);                                                                   \
    } while (0)

static int listener(int family, struct sockaddr_storage *sa, socklen_t *len)
{
    int ls = socket(family, SOCK_STREAM, 0);
    memset(sa, 0, sizeof *sa);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        *len = sizeof *in6;
    }
    socklen_t l = sizeof *sa;
    if (bind(ls, (struct sockaddr *)sa, *len) || listen(ls, 8) || getsockname(ls, (struct sockaddr *)sa, &l)) {
        perror("listener");
        exit(1);
    }
    return ls;
}

static void pair(int ls, struct sockaddr_storage *sa, socklen_t len, int *c, int *a)
{
    *c = socket(sa->ss_family, SOCK_STREAM, 0);
    if (connect(*c, (struct sockaddr *)sa, len)) {
        perror("connect");
        exit(1);
    }
    *a = accept(ls, NULL, NULL);
}

static int getint(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len))
        return -errno;
    return v;
}

int main(void)
{
    signal(SIGPIPE, on_pipe);
    struct sockaddr_storage sa;
    socklen_t salen;
    int ls = listener(AF_INET, &sa, &salen);
    int c, a;
    char buf[64];

    puts("-- shutdown");
    pair(ls, &sa, salen, &c, &a);
    SHOW(shutdown(c, SHUT_WR));
    SHOW(read(a, buf, sizeof buf));
    SHOW(write(a, "back", 4));
    SHOW(read(c, buf, sizeof buf));
    SHOW(write(c, "x", 1));
    printf("SIGPIPEs %d\n", (int)pipes);
    SHOW(send(c, "x", 1, MSG_NOSIGNAL));
    printf("SIGPIPEs %d\n", (int)pipes);
    SHOW(shutdown(c, SHUT_RD));
    SHOW(shutdown(c, 7));
    close(a);
    close(c);

    puts("-- reset");
    pair(ls, &sa, salen, &c, &a);
    SHOW(write(c, "unread", 6));
    usleep(10000);
    close(a);  /* with unread data: an RST */
    usleep(10000);
    SHOW(read(c, buf, sizeof buf));
    SHOW(read(c, buf, sizeof buf));
    close(c);

    puts("-- epoll");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev));
    struct epoll_event got[4];
    SHOW(epoll_wait(ep, got, 4, 0));
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&sa, salen);
    SHOW(epoll_wait(ep, got, 4, 1000));
    printf("ready fd is the listener: %d\n", got[0].data.fd == ls);
    a = accept(ls, NULL, NULL);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
    ev.data.fd = a;
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev));
    SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, ls, NULL));
    SHOW(epoll_wait(ep, got, 4, 1000));
    printf("events %#x\n", got[0].events);
    write(c, "data", 4);
    usleep(10000);
    SHOW(epoll_wait(ep, got, 4, 1000));
    printf("events %#x\n", got[0].events);
    read(a, buf, sizeof buf);
    shutdown(c, SHUT_WR);
    usleep(10000);
    SHOW(epoll_wait(ep, got, 4, 1000));
    printf("events %#x\n", got[0].events);
    close(c);
    shutdown(a, SHUT_RDWR);
    SHOW(epoll_wait(ep, got, 4, 1000));
    printf("events %#x\n", got[0].events);
    close(a);

    /* edge-triggered, used as Go's netpoller does: read until EAGAIN, then wait */
    c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&sa, salen);
    a = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.fd = a;
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev));
    SHOW(epoll_wait(ep, got, 4, 1000));
    printf("events %#x\n", got[0].events);
    SHOW(epoll_wait(ep, got, 4, 0));
    for (int round = 0; round < 3; round++) {
        write(c, "more", 4);
        SHOW(epoll_wait(ep, got, 4, 1000));
        printf("events %#x\n", got[0].events);
        while (read(a, buf, sizeof buf) > 0)
            ;
        printf("drained: %s\n", strerrorname_np(errno));
        SHOW(epoll_wait(ep, got, 4, 0));
    }
    close(a);
    close(c);
    close(ep);

    puts("-- options");
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1, zero = 0;
    printf("SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ACCEPTCONN %d\n", getint(s, SOL_SOCKET, SO_TYPE),
           getint(s, SOL_SOCKET, SO_DOMAIN), getint(s, SOL_SOCKET, SO_PROTOCOL), getint(s, SOL_SOCKET, SO_ACCEPTCONN));
    printf("listener SO_ACCEPTCONN %d\n", getint(ls, SOL_SOCKET, SO_ACCEPTCONN));
    SHOW(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    SHOW(setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one));
    SHOW(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one));
    printf("SO_REUSEADDR %d SO_REUSEPORT %d SO_KEEPALIVE %d\n", getint(s, SOL_SOCKET, SO_REUSEADDR),
           getint(s, SOL_SOCKET, SO_REUSEPORT), getint(s, SOL_SOCKET, SO_KEEPALIVE));
    int size = 65536;
    SHOW(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
    SHOW(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof size));
    printf("SO_RCVBUF %d SO_SNDBUF %d\n", getint(s, SOL_SOCKET, SO_RCVBUF), getint(s, SOL_SOCKET, SO_SNDBUF));
    struct linger lg = {1, 5}, lg2;
    SHOW(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    socklen_t len = sizeof lg2;
    SHOW(getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &len));
    printf("linger %d %d len %d\n", lg2.l_onoff, lg2.l_linger, (int)len);
    SHOW(setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    printf("TCP_NODELAY %d\n", getint(s, IPPROTO_TCP, TCP_NODELAY));
    int idle = 77;
    SHOW(setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle));
    printf("TCP_KEEPIDLE %d\n", getint(s, IPPROTO_TCP, TCP_KEEPIDLE));
    int ttl = 33;
    SHOW(setsockopt(s, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl));
    printf("IP_TTL %d\n", getint(s, IPPROTO_IP, IP_TTL));
    SHOW(setsockopt(s, IPPROTO_IP, IP_TTL, &zero, sizeof zero));
    int s6 = socket(AF_INET6, SOCK_STREAM, 0);
    printf("IPV6_V6ONLY %d\n", getint(s6, IPPROTO_IPV6, IPV6_V6ONLY));
    SHOW(setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    printf("IPV6_V6ONLY %d\n", getint(s6, IPPROTO_IPV6, IPV6_V6ONLY));
    SHOW(setsockopt(s, SOL_SOCKET, 999, &one, sizeof one));
    SHOW(getsockopt(s, SOL_SOCKET, 999, &one, &len));
    SHOW(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, 2));
    SHOW(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, NULL, sizeof one));
    SHOW(setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, -1));
    len = -1;
    SHOW(getsockopt(s, SOL_SOCKET, SO_TYPE, &one, &len));
    SHOW(setsockopt(s, 12345, 1, &one, sizeof one));
    SHOW(getsockopt(s6, IPPROTO_IP, IP_TTL, &one, &len));

    puts("-- bad input");
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    SHOW(socket(AF_INET, SOCK_SEQPACKET, 0));
    SHOW(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
    SHOW(socket(AF_INET6, SOCK_DGRAM, IPPROTO_TCP));
    SHOW(socket(AF_INET, SOCK_STREAM | 0x10000, 0));
    SHOW(socket(AF_APPLETALK, SOCK_DGRAM, 0));
    SHOW(socket(9999, SOCK_DGRAM, 0));
    int sv[2];
    SHOW(socketpair(AF_INET, SOCK_STREAM, 0, sv));
    int t = socket(AF_INET, SOCK_STREAM, 0);
    SHOW(bind(t, (struct sockaddr *)&in, sizeof in - 1));
    SHOW(bind(t, (struct sockaddr *)&in, 0));
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    SHOW(bind(t, (struct sockaddr *)&in6, sizeof in6));
    SHOW(bind(t, (struct sockaddr *)&in, 200));
    SHOW(bind(t, (struct sockaddr *)8, sizeof in));
    SHOW(bind(t, (struct sockaddr *)&in, sizeof in));
    SHOW(bind(t, (struct sockaddr *)&in, sizeof in));
    SHOW(bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&sa, sizeof in));
    SHOW(connect(t, (struct sockaddr *)&in6, sizeof in6));
    SHOW(connect(t, (struct sockaddr *)&in, 4));
    SHOW(accept(t, NULL, NULL));
    SHOW(accept4(ls, NULL, NULL, 0x1234));
    SHOW(listen(t, 5));
    SHOW(send(t, "x", 1, MSG_NOSIGNAL));
    SHOW(recv(t, buf, 1, 0));
    int p[2];
    pipe(p);
    SHOW(bind(p[0], (struct sockaddr *)&in, sizeof in));
    SHOW(listen(p[0], 1));
    SHOW(getsockname(p[0], (struct sockaddr *)&in, &len));
    SHOW(shutdown(p[0], SHUT_RD));
    SHOW(send(999, "x", 1, 0));
    pair(ls, &sa, salen, &c, &a);
    SHOW(listen(c, 5));
    SHOW(getpeername(t, (struct sockaddr *)&in, &len));
    SHOW(connect(c, (struct sockaddr *)&sa, salen));
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    SHOW(listen(u, 5));
    SHOW(accept(u, NULL, NULL));
    SHOW(sendto(u, "x", 1, 0, NULL, 0));
    SHOW(sendto(u, "x", 1, 0, (struct sockaddr *)&in6, sizeof in6));
    struct sockaddr_in unspec = {.sin_family = AF_UNSPEC};
    SHOW(connect(u, (struct sockaddr *)&unspec, sizeof unspec));
    len = 2;
    struct sockaddr_in small;
    SHOW(getsockname(c, (struct sockaddr *)&small, &len));
    printf("len %d\n", (int)len);
    puts("done");
    return 0;
}
