/* inet_udp: UDP on 127.0.0.1 and ::1. bind port 0, sendto/recvfrom with the sender's
 * address, MSG_PEEK, MSG_TRUNC (the whole length) and msg_flags MSG_TRUNC, message
 * boundaries, sendmmsg/recvmmsg (MSG_WAITFORONE, msg_len), a connected socket (send,
 * recv, getpeername), ECONNREFUSED on a connected socket after sending to a closed port,
 * a blocking recvfrom woken by another process, FIONREAD, and SO_RCVTIMEO (EAGAIN). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} addr_t;

static socklen_t loopback(int family, addr_t *a)
{
    memset(a, 0, sizeof *a);
    if (family == AF_INET) {
        a->in.sin_family = AF_INET;
        a->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof a->in;
    }
    a->in6.sin6_family = AF_INET6;
    a->in6.sin6_addr = in6addr_loopback;
    return sizeof a->in6;
}

static int bound(int family, addr_t *a, socklen_t *len)
{
    int fd = socket(family, SOCK_DGRAM, 0);
    *len = loopback(family, a);
    if (fd < 0 || bind(fd, &a->sa, *len)) {
        perror("bind");
        exit(1);
    }
    socklen_t l = sizeof *a;
    getsockname(fd, &a->sa, &l);
    return fd;
}

static void run(int family)
{
    printf("family %s\n", family == AF_INET ? "AF_INET" : "AF_INET6");
    addr_t ra, sa;
    socklen_t rlen, slen;
    int r = bound(family, &ra, &rlen);
    int s = bound(family, &sa, &slen);

    CHECK(sendto(s, "first", 5, 0, &ra.sa, rlen) == 5, "sendto");
    CHECK(sendto(s, "second message", 14, 0, &ra.sa, rlen) == 14, "sendto again");
    char buf[64];
    CHECK(recv(r, buf, sizeof buf, MSG_PEEK) == 5 && !memcmp(buf, "first", 5), "MSG_PEEK");
    int avail = 0;
    CHECK(ioctl(r, FIONREAD, &avail) == 0 && avail == 5, "FIONREAD: the next datagram's size");
    addr_t from;
    socklen_t flen = sizeof from;
    CHECK(recvfrom(r, buf, sizeof buf, 0, &from.sa, &flen) == 5, "recvfrom");
    CHECK(flen == slen && !memcmp(&from, &sa, slen), "the sender's address");
    CHECK(recv(r, buf, 6, MSG_TRUNC) == 14, "MSG_TRUNC gives the whole length");
    CHECK(!memcmp(buf, "second", 6), "and the head of the datagram");

    CHECK(sendto(s, "0123456789", 10, 0, &ra.sa, rlen) == 10, "sendto ten");
    struct iovec iov = {buf, 4};
    struct msghdr msg = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
    CHECK(recvmsg(r, &msg, 0) == 4 && (msg.msg_flags & MSG_TRUNC), "recvmsg: msg_flags MSG_TRUNC");
    CHECK(msg.msg_namelen == slen, "recvmsg: msg_namelen");

    /* sendmmsg / recvmmsg */
    char *words[] = {"alpha", "beta", "gamma"};
    struct mmsghdr out[3];
    struct iovec oiov[3];
    memset(out, 0, sizeof out);
    for (int i = 0; i < 3; i++) {
        oiov[i].iov_base = words[i];
        oiov[i].iov_len = strlen(words[i]);
        out[i].msg_hdr.msg_iov = &oiov[i];
        out[i].msg_hdr.msg_iovlen = 1;
        out[i].msg_hdr.msg_name = &ra;
        out[i].msg_hdr.msg_namelen = rlen;
    }
    CHECK(sendmmsg(s, out, 3, 0) == 3, "sendmmsg sends three");
    CHECK(out[0].msg_len == 5 && out[1].msg_len == 4 && out[2].msg_len == 5, "sendmmsg msg_len");
    struct mmsghdr in[4];
    struct iovec iiov[4];
    char bufs[4][16];
    memset(in, 0, sizeof in);
    for (int i = 0; i < 4; i++) {
        iiov[i].iov_base = bufs[i];
        iiov[i].iov_len = sizeof bufs[i];
        in[i].msg_hdr.msg_iov = &iiov[i];
        in[i].msg_hdr.msg_iovlen = 1;
    }
    CHECK(recvmmsg(r, in, 4, MSG_WAITFORONE, NULL) == 3, "recvmmsg MSG_WAITFORONE takes three");
    CHECK(in[0].msg_len == 5 && !memcmp(bufs[0], "alpha", 5) && in[1].msg_len == 4 && in[2].msg_len == 5
          && !memcmp(bufs[2], "gamma", 5), "recvmmsg msg_len and data");
    CHECK(recvmmsg(r, in, 4, MSG_DONTWAIT, NULL) == -1 && errno == EAGAIN, "recvmmsg on empty: EAGAIN");

    /* a connected socket */
    CHECK(connect(s, &ra.sa, rlen) == 0, "connect");
    addr_t peer;
    socklen_t plen = sizeof peer;
    CHECK(getpeername(s, &peer.sa, &plen) == 0 && plen == rlen && !memcmp(&peer, &ra, rlen), "getpeername");
    CHECK(send(s, "conn", 4, 0) == 4, "send on a connected socket");
    CHECK(recv(r, buf, sizeof buf, 0) == 4, "recv");

    /* a blocking recvfrom, woken by another process */
    pid_t child = fork();
    if (child == 0) {
        usleep(20000);
        sendto(s, "late", 4, 0, NULL, 0);
        _exit(0);
    }
    CHECK(recvfrom(r, buf, sizeof buf, 0, NULL, NULL) == 4 && !memcmp(buf, "late", 4), "a blocking recvfrom");
    int status;
    waitpid(child, &status, 0);

    /* SO_RCVTIMEO */
    struct timeval tv = {0, 50000};
    CHECK(setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    struct timeval back;
    socklen_t blen = sizeof back;
    CHECK(getsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &back, &blen) == 0 && back.tv_usec > 0, "read back");
    CHECK(recv(r, buf, sizeof buf, 0) == -1 && errno == EAGAIN, "recv times out: EAGAIN");

    /* a closed port: the connected socket hears ECONNREFUSED */
    addr_t gone;
    socklen_t glen;
    int g = bound(family, &gone, &glen);
    close(g);
    int c = socket(family, SOCK_DGRAM, 0);
    CHECK(connect(c, &gone.sa, glen) == 0, "connect to a closed port");
    CHECK(send(c, "x", 1, 0) == 1, "the first send goes");
    usleep(10000);
    CHECK(recv(c, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == ECONNREFUSED, "then ECONNREFUSED");
    close(c);
    close(r);
    close(s);
}

int main(void)
{
    run(AF_INET);
    run(AF_INET6);
    puts("done");
    return 0;
}
