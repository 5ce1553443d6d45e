/* inet_tcp: a TCP echo server on loopback (127.0.0.1 and ::1) with clients in several
 * forked processes. The server binds port 0 and finds its port with getsockname; each
 * client connection is served by a forked child (blocking recv with MSG_WAITALL, write).
 * Clients check the echo (MSG_WAITALL), the peer and local names (getpeername/getsockname agree across
 * the connection), a 1 MiB transfer written by one process and read by another while
 * the server echoes it, and EOF after shutdown(SHUT_WR). Also: accept's address, writev
 * and recvmsg into two iovecs, SO_ERROR 0, close of the listener. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define CLIENTS 3
#define BIG (1 << 20)
#define CHUNK 65536
#define GREETING 64

typedef union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
    struct sockaddr_storage ss;
} addr_t;

static int port_of(const addr_t *a)
{
    return ntohs(a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port);
}

static int same(const addr_t *a, const addr_t *b)
{
    if (a->sa.sa_family != b->sa.sa_family)
        return 0;
    if (a->sa.sa_family == AF_INET)
        return a->in.sin_port == b->in.sin_port && a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
    return a->in6.sin6_port == b->in6.sin6_port && !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16);
}

static ssize_t write_all(int fd, const char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n <= 0)
            return -1;
        done += n;
    }
    return done;
}

/* The server knows the conversation's shape, so that every read is the same natively and
 * under pykern (MSG_WAITALL): a 64-byte greeting, 8 bytes, then 64 KiB blocks until EOF. */
static void serve(int conn)
{
    static char buf[CHUNK];
    size_t sizes[] = {GREETING, 8};
    for (int i = 0; i < 2; i++) {
        if (recv(conn, buf, sizes[i], MSG_WAITALL) != (ssize_t)sizes[i] || write(conn, buf, sizes[i]) != (ssize_t)sizes[i]) {
            perror("server");
            _exit(1);
        }
    }
    for (;;) {
        ssize_t n = recv(conn, buf, CHUNK, MSG_WAITALL);
        if (n < 0) {
            perror("server recv");
            _exit(1);
        }
        if (n == 0)
            break;
        if (write_all(conn, buf, n) != n) {
            perror("server write");
            _exit(1);
        }
    }
    close(conn);
    _exit(0);
}

static unsigned sum(const unsigned char *p, size_t n)
{
    unsigned s = 0;
    for (size_t i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

static void client(int family, const addr_t *server, int id)
{
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, &server->sa, family == AF_INET ? sizeof server->in : sizeof server->in6) < 0) {
        perror("client connect");
        _exit(1);
    }
    addr_t me, peer;
    socklen_t len = sizeof me;
    getsockname(fd, &me.sa, &len);
    len = sizeof peer;
    getpeername(fd, &peer.sa, &len);
    if (!same(&peer, server)) {
        fprintf(stderr, "client %d: getpeername is not the server\n", id);
        _exit(1);
    }
    /* tell the server our port, as we see it: it checks accept's address */
    char msg[GREETING] = {0};
    int n = GREETING;
    snprintf(msg, sizeof msg, "hello from client %d port %d", id, port_of(&me));
    if (send(fd, msg, n, 0) != n) {
        perror("send");
        _exit(1);
    }
    char back[GREETING] = {0};
    if (recv(fd, back, n, MSG_WAITALL) != n || memcmp(back, msg, n)) {
        fprintf(stderr, "client %d: bad echo\n", id);
        _exit(1);
    }
    /* writev, and recvmsg into two iovecs */
    char a[] = "abc", b[] = "defgh";
    struct iovec out[2] = {{a, 3}, {b, 5}};
    if (writev(fd, out, 2) != 8) {
        perror("writev");
        _exit(1);
    }
    char x[4] = {0}, y[5] = {0};
    struct iovec in[2] = {{x, 3}, {y, 5}};
    struct msghdr mh = {.msg_iov = in, .msg_iovlen = 2};
    if (recvmsg(fd, &mh, MSG_WAITALL) != 8) {
        perror("recvmsg");
        _exit(1);
    }
    if (memcmp(x, "abc", 3) || memcmp(y, "defgh", 5)) {
        fprintf(stderr, "client %d: bad recvmsg\n", id);
        _exit(1);
    }
    /* a big transfer: a child writes, we read the echo */
    static unsigned char big[BIG], echo[BIG];
    for (int i = 0; i < BIG; i++)
        big[i] = (unsigned char)(i * 7 + id);
    pid_t writer = fork();
    if (writer == 0) {
        if (write_all(fd, (char *)big, BIG) != BIG) {
            perror("big write");
            _exit(1);
        }
        shutdown(fd, SHUT_WR);
        _exit(0);
    }
    size_t total = 0;
    for (;;) {
        ssize_t r = recv(fd, echo + total, total < BIG ? CHUNK : 1, MSG_WAITALL);
        if (r < 0) {
            perror("big read");
            _exit(1);
        }
        if (r == 0)
            break;
        total += r;
        if (total > BIG) {
            fprintf(stderr, "client %d: too much\n", id);
            _exit(1);
        }
    }
    int status;
    waitpid(writer, &status, 0);
    if (total != BIG || sum(echo, BIG) != sum(big, BIG) || status != 0) {
        fprintf(stderr, "client %d: big echo %zu bytes, status %d\n", id, total, status);
        _exit(1);
    }
    close(fd);
    _exit(0);
}

static void run(int family)
{
    const char *name = family == AF_INET ? "127.0.0.1" : "::1";
    int ls = socket(family, SOCK_STREAM, 0);
    CHECK(ls >= 0, "socket");
    int one = 1;
    CHECK(setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
    addr_t sa;
    memset(&sa, 0, sizeof sa);
    socklen_t salen;
    if (family == AF_INET) {
        sa.in.sin_family = AF_INET;
        inet_pton(AF_INET, name, &sa.in.sin_addr);
        salen = sizeof sa.in;
    } else {
        sa.in6.sin6_family = AF_INET6;
        inet_pton(AF_INET6, name, &sa.in6.sin6_addr);
        salen = sizeof sa.in6;
    }
    CHECK(bind(ls, &sa.sa, salen) == 0, "bind port 0");
    CHECK(listen(ls, 16) == 0, "listen");
    socklen_t len = sizeof sa;
    CHECK(getsockname(ls, &sa.sa, &len) == 0 && len == salen, "getsockname gives the address length");
    CHECK(port_of(&sa) != 0, "a port was chosen");
    char text[64];
    inet_ntop(family, family == AF_INET ? (void *)&sa.in.sin_addr : (void *)&sa.in6.sin6_addr, text, sizeof text);
    printf("server on %s\n", text);
    int accepting;
    len = sizeof accepting;
    CHECK(getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) == 0 && accepting == 1, "SO_ACCEPTCONN");

    pid_t clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = fork();
        if (clients[i] == 0)
            client(family, &sa, i);
    }
    pid_t servers[CLIENTS];
    int seen = 0;
    for (int i = 0; i < CLIENTS; i++) {
        addr_t peer;
        socklen_t plen = sizeof peer;
        int conn = accept(ls, &peer.sa, &plen);
        CHECK(conn >= 0, "accept");
        CHECK(plen == salen && peer.sa.sa_family == family, "accept gives the client's address");
        char hello[GREETING] = {0};
        ssize_t n = recv(conn, hello, sizeof hello - 1, MSG_PEEK);
        CHECK(n > 0, "MSG_PEEK sees the greeting");
        int id, port;
        /* the whole greeting may come in pieces; peek until it is all there */
        while (sscanf(hello, "hello from client %d port %d", &id, &port) != 2 || strlen(hello) < 27) {
            n = recv(conn, hello, sizeof hello - 1, MSG_PEEK);
            hello[n] = 0;
        }
        CHECK(port == port_of(&peer), "the client's port is accept's");
        seen |= 1 << id;
        int nodelay = 1;
        CHECK(setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay) == 0, "TCP_NODELAY");
        servers[i] = fork();
        if (servers[i] == 0) {
            close(ls);
            serve(conn);
        }
        close(conn);
    }
    CHECK(seen == (1 << CLIENTS) - 1, "every client connected");
    for (int i = 0; i < CLIENTS; i++) {
        int status;
        waitpid(clients[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client finished");
    }
    for (int i = 0; i < CLIENTS; i++) {
        int status;
        waitpid(servers[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server child finished");
    }
    int err = -1;
    len = sizeof err;
    CHECK(getsockopt(ls, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0, "SO_ERROR 0");
    close(ls);
}

int main(void)
{
    run(AF_INET);
    run(AF_INET6);
    puts("done");
    return 0;
}
