/* socketpair: AF_UNIX socketpairs. SOCK_STREAM both ways through read/write, send/recv,
 * sendto/recvfrom and sendmsg/recvmsg with several iovecs; MSG_PEEK, MSG_DONTWAIT,
 * stream writes joining up; SOCK_NONBLOCK and SOCK_CLOEXEC; shutdown(SHUT_WR) (EOF for
 * the peer, EPIPE, SIGPIPE), bad shutdowns; closing one end; poll's POLLOUT, POLLIN and
 * POLLHUP; SOCK_DGRAM and SOCK_SEQPACKET message boundaries and truncation (MSG_TRUNC);
 * getsockopt SO_TYPE/SO_DOMAIN/SO_ERROR, getsockname/getpeername, fstat's S_ISSOCK;
 * socketpair's own errors (EOPNOTSUPP, EINVAL, EFAULT), ENOTSOCK and EBADF; and a forked
 * child talking to its parent over a pair. Values seen are printed, not just checked. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t pipes;

static void on_pipe(int sig)
{
    (void)sig;
    pipes++;
}

static const char *ename(int e)
{
    switch (e) {
    case EAGAIN: return "EAGAIN";
    case EPIPE: return "EPIPE";
    case EINVAL: return "EINVAL";
    case ENOTSOCK: return "ENOTSOCK";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ECONNREFUSED: return "ECONNREFUSED";
    default: return "other";
    }
}

/* Prints what a call returned, with errno's name if it failed (errno is kept). */
static void show(const char *what, long r)
{
    int e = errno;
    if (r < 0)
        printf("%s: %ld %s (%d)\n", what, r, ename(e), e);
    else
        printf("%s: %ld\n", what, r);
    errno = e;
}

/* Prints what a call returned, then checks it failed with errno want. */
static void fails(const char *what, long r, int want)
{
    show(what, r);
    CHECK(r == -1 && errno == want, what);
}

/* Prints what a call returned and checks it was want. */
static void gives(const char *what, long r, long want)
{
    show(what, r);
    CHECK(r == want, what);
}

static int revents(int fd)
{
    struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP, 0};
    poll(&p, 1, 0);
    return p.revents & (POLLIN | POLLOUT | POLLHUP | POLLRDHUP | POLLERR);
}

static int sockopt(int fd, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0 || len != sizeof v)
        return -1;
    return v;
}

int main(void)
{
    int sv[2], p[2];
    char buf[100];
    CHECK(pipe(p) == 0, "pipe (a non-socket for the ENOTSOCK cases)");

    /* 1. SOCK_STREAM both ways, every read/write call pair. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair stream");
    gives("write sv0 'hello'", write(sv[0], "hello", 5), 5);
    gives("read sv1", read(sv[1], buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0, "sv1 got hello");
    gives("write sv1 'back'", write(sv[1], "back", 4), 4);
    gives("read sv0", read(sv[0], buf, sizeof buf), 4);
    CHECK(memcmp(buf, "back", 4) == 0, "sv0 got back");
    gives("send", send(sv[0], "abc", 3, 0), 3);
    gives("recv", recv(sv[1], buf, sizeof buf, 0), 3);
    CHECK(memcmp(buf, "abc", 3) == 0, "recv got abc");
    gives("sendto NULL addr", sendto(sv[1], "xyz!", 4, 0, NULL, 0), 4);
    gives("recvfrom NULL addr", recvfrom(sv[0], buf, sizeof buf, 0, NULL, NULL), 4);
    CHECK(memcmp(buf, "xyz!", 4) == 0, "recvfrom got xyz!");
    struct iovec out[3] = {{"one", 3}, {"-two", 4}, {"-three", 6}};
    struct msghdr m = {0};
    m.msg_iov = out;
    m.msg_iovlen = 3;
    gives("sendmsg 3 iovecs", sendmsg(sv[0], &m, 0), 13);
    char a[4], b[5], c[10];
    struct iovec in[3] = {{a, 4}, {b, 5}, {c, 10}};
    memset(&m, 0, sizeof m);
    m.msg_iov = in;
    m.msg_iovlen = 3;
    gives("recvmsg 3 iovecs", recvmsg(sv[1], &m, 0), 13);
    CHECK(memcmp(a, "one-", 4) == 0 && memcmp(b, "two-t", 5) == 0 && memcmp(c, "hree", 4) == 0,
          "recvmsg scattered one-|two-t|hree");
    printf("recvmsg msg_flags: %#x\n", m.msg_flags);
    gives("send 'peek'", send(sv[0], "peek", 4, 0), 4);
    gives("recv MSG_PEEK", recv(sv[1], buf, sizeof buf, MSG_PEEK), 4);
    char again[100];
    gives("recv after peek", recv(sv[1], again, sizeof again, 0), 4);
    CHECK(memcmp(buf, "peek", 4) == 0 && memcmp(again, "peek", 4) == 0, "peek and recv saw the same bytes");
    fails("recv MSG_DONTWAIT empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    gives("write 3", write(sv[0], "123", 3), 3);
    gives("write 4", write(sv[0], "4567", 4), 4);
    gives("one read of both", read(sv[1], buf, sizeof buf), 7);
    CHECK(memcmp(buf, "1234567", 7) == 0, "stream joined 1234567");

    /* 2. SOCK_NONBLOCK | SOCK_CLOEXEC. */
    int nb[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, nb) == 0, "socketpair nonblock cloexec");
    CHECK(fcntl(nb[0], F_GETFL) & O_NONBLOCK && fcntl(nb[1], F_GETFL) & O_NONBLOCK, "both ends O_NONBLOCK");
    CHECK(fcntl(nb[0], F_GETFD) == FD_CLOEXEC && fcntl(nb[1], F_GETFD) == FD_CLOEXEC, "both ends FD_CLOEXEC");
    CHECK(!(fcntl(sv[0], F_GETFL) & O_NONBLOCK) && fcntl(sv[0], F_GETFD) == 0, "plain pair: neither flag");
    fails("read empty nonblocking", read(nb[0], buf, sizeof buf), EAGAIN);
    close(nb[0]);
    close(nb[1]);

    /* 3. shutdown(SHUT_WR): EOF for the peer after the data, EPIPE and SIGPIPE for us. */
    struct sigaction sa = {0};
    sa.sa_handler = on_pipe;
    sigaction(SIGPIPE, &sa, NULL);
    gives("write 'last'", write(sv[0], "last", 4), 4);
    gives("shutdown SHUT_WR", shutdown(sv[0], SHUT_WR), 0);
    gives("peer reads remaining data", read(sv[1], buf, sizeof buf), 4);
    gives("peer then reads EOF", read(sv[1], buf, sizeof buf), 0);
    gives("peer reads EOF again", read(sv[1], buf, sizeof buf), 0);
    fails("send MSG_NOSIGNAL after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
    CHECK(pipes == 0, "no SIGPIPE with MSG_NOSIGNAL");
    fails("write after SHUT_WR", write(sv[0], "x", 1), EPIPE);
    printf("SIGPIPE caught: %d\n", (int)pipes);
    CHECK(pipes == 1, "write raised SIGPIPE");
    gives("peer can still write back", write(sv[1], "rev", 3), 3);
    gives("half-closed end still reads", read(sv[0], buf, sizeof buf), 3);
    printf("poll sv1 after peer SHUT_WR: %#x\n", revents(sv[1]));
    fails("shutdown how=7", shutdown(sv[0], 7), EINVAL);
    fails("shutdown on a pipe", shutdown(p[0], SHUT_RD), ENOTSOCK);

    /* 4. Close one end. */
    close(sv[0]);
    gives("read after peer closed", read(sv[1], buf, sizeof buf), 0);
    fails("send after peer closed", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
    close(sv[1]);

    /* 5. poll. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair stream");
    printf("poll fresh: %#x\n", revents(sv[0]));
    CHECK(revents(sv[0]) == POLLOUT, "fresh: POLLOUT only");
    gives("peer writes", write(sv[1], "q", 1), 1);
    printf("poll after peer wrote: %#x\n", revents(sv[0]));
    CHECK(revents(sv[0]) == (POLLIN | POLLOUT), "data: POLLIN|POLLOUT");
    close(sv[1]);
    int r = revents(sv[0]);
    printf("poll after peer closed: %#x\n", r);
    CHECK((r & (POLLIN | POLLHUP)) == (POLLIN | POLLHUP), "peer closed: POLLIN and POLLHUP");
    close(sv[0]);

    /* 6. SOCK_DGRAM and SOCK_SEQPACKET keep message boundaries. */
    static const int types[2] = {SOCK_DGRAM, SOCK_SEQPACKET};
    static const char *names[2] = {"dgram", "seqpacket"};
    for (int i = 0; i < 2; i++) {
        char what[80];
#define SAY(s) (snprintf(what, sizeof what, "%s %s", names[i], s), what)
        CHECK(socketpair(AF_UNIX, types[i], 0, sv) == 0, SAY("socketpair"));
        gives(SAY("send 3"), send(sv[0], "abc", 3, 0), 3);
        gives(SAY("send 5"), send(sv[0], "defgh", 5, 0), 5);
        gives(SAY("recv first"), recv(sv[1], buf, sizeof buf, 0), 3);
        gives(SAY("recv second"), recv(sv[1], buf, sizeof buf, 0), 5);
        CHECK(memcmp(buf, "defgh", 5) == 0, SAY("second message defgh"));
        gives(SAY("send 6"), send(sv[0], "ijklmn", 6, 0), 6);
        gives(SAY("recv 2-byte buffer"), recv(sv[1], buf, 2, 0), 2);
        fails(SAY("rest was dropped"), recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
        gives(SAY("send 6 again"), send(sv[0], "opqrst", 6, 0), 6);
        struct iovec io = {buf, 4};
        memset(&m, 0, sizeof m);
        m.msg_iov = &io;
        m.msg_iovlen = 1;
        gives(SAY("recvmsg 4-byte buffer"), recvmsg(sv[1], &m, 0), 4);
        printf("%s msg_flags: %#x\n", names[i], m.msg_flags);
        CHECK(m.msg_flags & MSG_TRUNC, SAY("MSG_TRUNC set"));
        close(sv[0]);
        if (types[i] == SOCK_SEQPACKET)
            gives(SAY("recv after peer closed"), recv(sv[1], buf, sizeof buf, 0), 0);
        else
            fails(SAY("send after peer closed"), send(sv[1], "x", 1, MSG_NOSIGNAL), ECONNREFUSED);
        close(sv[1]);
#undef SAY
    }

    /* 7-9. getsockopt, getsockname/getpeername, fstat. */
    for (int i = 0; i < 3; i++) {
        static const int t[3] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
        CHECK(socketpair(AF_UNIX, t[i], 0, sv) == 0, "socketpair");
        printf("SO_TYPE %d SO_DOMAIN %d SO_ERROR %d\n", sockopt(sv[0], SO_TYPE), sockopt(sv[1], SO_DOMAIN),
               sockopt(sv[0], SO_ERROR));
        CHECK(sockopt(sv[0], SO_TYPE) == t[i] && sockopt(sv[1], SO_DOMAIN) == AF_UNIX && sockopt(sv[0], SO_ERROR) == 0,
              "SO_TYPE, SO_DOMAIN, SO_ERROR");
        if (i < 2) {
            close(sv[0]);
            close(sv[1]);
        }
    }
    int v;
    socklen_t vl = sizeof v;
    fails("getsockopt on a pipe", getsockopt(p[0], SOL_SOCKET, SO_TYPE, &v, &vl), ENOTSOCK);
    struct sockaddr_un un;
    socklen_t len = sizeof un;
    memset(&un, 0xff, sizeof un);
    gives("getsockname", getsockname(sv[0], (struct sockaddr *)&un, &len), 0);
    printf("getsockname len %u family %d\n", (unsigned)len, un.sun_family);
    CHECK(len == sizeof(sa_family_t) && un.sun_family == AF_UNIX, "getsockname: unnamed AF_UNIX");
    len = sizeof un;
    memset(&un, 0xff, sizeof un);
    gives("getpeername", getpeername(sv[1], (struct sockaddr *)&un, &len), 0);
    printf("getpeername len %u family %d\n", (unsigned)len, un.sun_family);
    CHECK(len == sizeof(sa_family_t) && un.sun_family == AF_UNIX, "getpeername: unnamed AF_UNIX");
    struct stat st;
    CHECK(fstat(sv[0], &st) == 0 && S_ISSOCK(st.st_mode), "fstat: S_ISSOCK");
    close(sv[0]);
    close(sv[1]);

    /* 10. Errors. */
    fails("socketpair AF_INET", socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
    fails("socketpair type 12345", socketpair(AF_UNIX, 12345, 0, sv), EINVAL);
    fails("socketpair NULL sv", socketpair(AF_UNIX, SOCK_STREAM, 0, NULL), EFAULT);
    fails("recv on a pipe", recv(p[0], buf, sizeof buf, 0), ENOTSOCK);
    int bad = dup(0);
    close(bad);
    fails("send on a closed fd", send(bad, "x", 1, 0), EBADF);
    close(p[0]);
    close(p[1]);

    /* 11. A forked child: ping, pong. The parent prints nothing until the child is reaped. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair for fork");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(sv[0]);
        char got[8] = {0};
        long w = write(sv[1], "ping", 4);
        long n = read(sv[1], got, sizeof got - 1);
        printf("child: wrote %ld, got %ld '%s'\n", w, n, got);
        fflush(stdout);
        _exit(n == 4 && strcmp(got, "pong") == 0 ? 3 : 1);
    }
    close(sv[1]);
    char got[8] = {0};
    long n = read(sv[0], got, sizeof got - 1);
    long w = write(sv[0], "pong", 4);
    int status;
    pid_t reaped = waitpid(pid, &status, 0);
    printf("parent: got %ld '%s', wrote %ld\n", n, got, w);
    CHECK(reaped == pid && n == 4 && strcmp(got, "ping") == 0 && w == 4, "parent got ping, sent pong");
    printf("child exit status: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3, "child exited 3 after pong");
    gives("read after child exited", read(sv[0], buf, sizeof buf), 0);
    close(sv[0]);

    printf("socketpair: ok\n");
    return 0;
}
