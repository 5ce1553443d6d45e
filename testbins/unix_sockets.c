/* unix_sockets: named AF_UNIX sockets. socket(2)'s types, flags and errnos; bind to a
 * path (an S_IFSOCK node under the umask; EADDRINUSE, ENOENT, EACCES, EINVAL), to an
 * abstract name and by autobind; listen/connect/accept4 with a server and clients in
 * forked processes (names, SO_PEERCRED), the backlog (EAGAIN, a blocked connect),
 * poll on a listener, ECONNREFUSED/ENOENT/EPROTOTYPE/EISCONN; datagrams by name
 * (sender names, EPERM to a socket connected elsewhere); SCM_RIGHTS across fork with
 * MSG_CTRUNC, SCM_CREDENTIALS with SO_PASSCRED; bad control messages; a SOCK_SEQPACKET
 * server under epoll (message boundaries, SO_PASSCRED's autobind, a shut listener). Runs in a fresh
 * temporary directory; prints what it sees, never a pid or a random name. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errcheck.h"

static socklen_t make_addr(struct sockaddr_un *sun, const char *path)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    strcpy(sun->sun_path, path);
    return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t make_abstract(struct sockaddr_un *sun, const char *name)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path + 1, name, strlen(name));
    return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int bound(int type, const char *path)
{
    struct sockaddr_un sun;
    socklen_t len = make_addr(&sun, path);
    int fd = socket(AF_UNIX, type, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) != 0) {
        perror(path);
        exit(1);
    }
    return fd;
}

static int connect_to(int fd, const char *path)
{
    struct sockaddr_un sun;
    socklen_t len = make_addr(&sun, path);
    return connect(fd, (struct sockaddr *)&sun, len);
}

static void wait_child(pid_t pid, const char *what)
{
    int status;
    TRUE(what, waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_socket(void)
{
    int fd, value;
    socklen_t len = sizeof value;
    OK("socket stream", fd, socket(AF_UNIX, SOCK_STREAM, 0));
    TRUE("stream type", getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) == 0 && value == SOCK_STREAM);
    struct stat st;
    TRUE("fstat S_ISSOCK", fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
    close(fd);
    OK("socket dgram nonblock cloexec", fd, socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    TRUE("O_NONBLOCK", fcntl(fd, F_GETFL) & O_NONBLOCK);
    TRUE("FD_CLOEXEC", fcntl(fd, F_GETFD) == FD_CLOEXEC);
    close(fd);
    OK("socket seqpacket PF_UNIX", fd, socket(AF_UNIX, SOCK_SEQPACKET, PF_UNIX));
    close(fd);
    OK("socket raw", fd, socket(AF_UNIX, SOCK_RAW, 0));
    len = sizeof value;
    TRUE("raw is dgram", getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) == 0 && value == SOCK_DGRAM);
    close(fd);
    ERR("socket bad flags", socket(AF_UNIX, SOCK_STREAM | 0x100, 0), EINVAL);
    ERR("socket family -1", socket(-1, SOCK_STREAM, 0), EAFNOSUPPORT);
    ERR("socket family 46", socket(46, SOCK_STREAM, 0), EAFNOSUPPORT);
    ERR("socket type 11", socket(AF_UNIX, 11, 0), EINVAL);
    ERR("socket SOCK_RDM", socket(AF_UNIX, SOCK_RDM, 0), ESOCKTNOSUPPORT);
    ERR("socket protocol 7", socket(AF_UNIX, SOCK_STREAM, 7), EPROTONOSUPPORT);
    ERR("socket protocol before type", socket(AF_UNIX, SOCK_RDM, 7), EPROTONOSUPPORT);
}

static void test_bind(void)
{
    struct sockaddr_un sun, got;
    socklen_t len = make_addr(&sun, "a.sock"), got_len;
    int fd, other;
    umask(022);
    OK("socket", fd, socket(AF_UNIX, SOCK_STREAM, 0));
    got_len = sizeof got;
    TRUE("unbound name", getsockname(fd, (struct sockaddr *)&got, &got_len) == 0 && got_len == 2 &&
                             got.sun_family == AF_UNIX);
    ERR("bind addrlen 1", bind(fd, (struct sockaddr *)&sun, 1), EINVAL);
    ERR("bind addrlen 111", bind(fd, (struct sockaddr *)&sun, 111), EINVAL);
    ERR("bind addrlen 200", bind(fd, (struct sockaddr *)&sun, 200), EINVAL);
    ERR("bind addrlen -1", bind(fd, (struct sockaddr *)&sun, -1), EINVAL);
    sun.sun_family = AF_INET;
    ERR("bind AF_INET address", bind(fd, (struct sockaddr *)&sun, len), EINVAL);
    sun.sun_family = AF_UNIX;
    ERR("bind bad pointer", bind(fd, (struct sockaddr *)8, len), EFAULT);
    OK("bind path", other, bind(fd, (struct sockaddr *)&sun, len));
    struct stat st;
    TRUE("node is S_IFSOCK", lstat("a.sock", &st) == 0 && S_ISSOCK(st.st_mode));
    printf("node mode %o\n", st.st_mode & 07777);
    got_len = sizeof got;
    TRUE("getsockname path", getsockname(fd, (struct sockaddr *)&got, &got_len) == 0 && got_len == len &&
                                 strcmp(got.sun_path, "a.sock") == 0);
    got_len = 4;
    memset(&got, 0x55, sizeof got);
    TRUE("getsockname short", getsockname(fd, (struct sockaddr *)&got, &got_len) == 0 && got_len == len &&
                                  got.sun_path[0] == 'a' && got.sun_path[1] == '.' && got.sun_path[2] == 0x55);
    got_len = -1;
    ERR("getsockname negative len", getsockname(fd, (struct sockaddr *)&got, &got_len), EINVAL);
    struct sockaddr_un sun2;
    socklen_t len2 = make_addr(&sun2, "b.sock");
    ERR("bind twice", bind(fd, (struct sockaddr *)&sun2, len2), EINVAL);
    TRUE("second node removed", access("b.sock", F_OK) != 0 && errno == ENOENT);
    OK("socket 2", other, socket(AF_UNIX, SOCK_STREAM, 0));
    ERR("bind in use", bind(other, (struct sockaddr *)&sun, len), EADDRINUSE);
    close(open("file", O_CREAT | O_WRONLY, 0644));
    len2 = make_addr(&sun2, "file");
    ERR("bind existing file", bind(other, (struct sockaddr *)&sun2, len2), EADDRINUSE);
    len2 = make_addr(&sun2, "missing/x.sock");
    ERR("bind missing directory", bind(other, (struct sockaddr *)&sun2, len2), ENOENT);
    len2 = make_addr(&sun2, "file/x.sock");
    ERR("bind under a file", bind(other, (struct sockaddr *)&sun2, len2), ENOTDIR);
    /* a path without its NUL: the length says where it ends */
    len2 = make_addr(&sun2, "c.sockXYZ");
    OK("bind short length", len2, bind(other, (struct sockaddr *)&sun2, offsetof(struct sockaddr_un, sun_path) + 6));
    TRUE("node c.sock", access("c.sock", F_OK) == 0);
    got_len = sizeof got;
    TRUE("name c.sock", getsockname(other, (struct sockaddr *)&got, &got_len) == 0 &&
                            got_len == offsetof(struct sockaddr_un, sun_path) + 7 &&
                            strcmp(got.sun_path, "c.sock") == 0);
    close(other);
    close(fd);
    TRUE("node stays after close", lstat("a.sock", &st) == 0 && S_ISSOCK(st.st_mode));
    OK("socket 3", fd, socket(AF_UNIX, SOCK_STREAM, 0));
    ERR("bind closed one's path", bind(fd, (struct sockaddr *)&sun, len), EADDRINUSE);
    ERR("connect closed one's path", connect(fd, (struct sockaddr *)&sun, len), ECONNREFUSED);
    close(fd);

    /* abstract names */
    OK("socket abstract", fd, socket(AF_UNIX, SOCK_DGRAM, 0));
    len = make_abstract(&sun, "pykern-unix-test");
    OK("bind abstract", other, bind(fd, (struct sockaddr *)&sun, len));
    got_len = sizeof got;
    TRUE("abstract name", getsockname(fd, (struct sockaddr *)&got, &got_len) == 0 && got_len == len &&
                              got.sun_path[0] == 0 && memcmp(got.sun_path + 1, "pykern-unix-test", 16) == 0);
    OK("socket abstract 2", other, socket(AF_UNIX, SOCK_DGRAM, 0));
    ERR("abstract in use", bind(other, (struct sockaddr *)&sun, len), EADDRINUSE);
    ERR("abstract bind twice", bind(fd, (struct sockaddr *)&sun, len - 1), EINVAL);
    close(fd);
    OK("abstract free after close", fd, bind(other, (struct sockaddr *)&sun, len));
    close(other);

    /* autobind: a bare sun_family */
    OK("socket autobind", fd, socket(AF_UNIX, SOCK_STREAM, 0));
    sun.sun_family = AF_UNIX;
    OK("autobind", other, bind(fd, (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path)));
    got_len = sizeof got;
    TRUE("autobind name", getsockname(fd, (struct sockaddr *)&got, &got_len) == 0 && got_len == 8 &&
                              got.sun_path[0] == 0);
    OK("autobind again is fine", other, bind(fd, (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path)));
    close(fd);
}

static void test_refusals(void)
{
    int fd, listener, r;
    struct sockaddr_un sun;
    socklen_t len;
    OK("socket", fd, socket(AF_UNIX, SOCK_STREAM, 0));
    ERR("listen unbound", listen(fd, 5), EINVAL);
    ERR("accept not listening", accept(fd, NULL, NULL), EINVAL);
    ERR("connect missing path", connect_to(fd, "nothing.sock"), ENOENT);
    ERR("connect regular file", connect_to(fd, "file"), ECONNREFUSED);
    len = make_addr(&sun, "x");
    sun.sun_family = AF_INET;
    ERR("connect AF_INET address", connect(fd, (struct sockaddr *)&sun, len), EINVAL);
    ERR("connect addrlen 2", connect(fd, (struct sockaddr *)&sun, 2), EINVAL);
    len = make_abstract(&sun, "pykern-nobody-here");
    ERR("connect abstract nobody", connect(fd, (struct sockaddr *)&sun, len), ECONNREFUSED);
    listener = bound(SOCK_STREAM, "notlistening.sock");
    ERR("connect bound, not listening", connect_to(fd, "notlistening.sock"), ECONNREFUSED);
    OK("listen", r, listen(listener, 1));
    int dgram;
    OK("socket dgram", dgram, socket(AF_UNIX, SOCK_DGRAM, 0));
    ERR("dgram to stream listener", connect_to(dgram, "notlistening.sock"), EPROTOTYPE);
    ERR("listen dgram", listen(dgram, 1), EOPNOTSUPP);
    ERR("accept dgram", accept(dgram, NULL, NULL), EOPNOTSUPP);
    ERR("accept4 bad flags", accept4(listener, NULL, NULL, 0x100), EINVAL);
    ERR("accept bad fd", accept(dgram + 100, NULL, NULL), EBADF);
    int file = open("file", O_RDONLY);
    ERR("bind ENOTSOCK", bind(file, (struct sockaddr *)&sun, len), ENOTSOCK);
    ERR("listen ENOTSOCK", listen(file, 1), ENOTSOCK);
    close(file);
    int opath = open(".", O_PATH);
    ERR("accept O_PATH fd", accept(opath, NULL, NULL), EBADF);
    ERR("getsockname O_PATH fd", getsockname(opath, (struct sockaddr *)&sun, &len), EBADF);
    close(opath);
    OK("connect", r, connect_to(fd, "notlistening.sock"));
    ERR("connect again", connect_to(fd, "notlistening.sock"), EISCONN);
    ERR("listen connected", listen(fd, 1), EINVAL);
    ERR("listener connects", connect_to(listener, "notlistening.sock"), EINVAL);
    ERR("send to a listener", send(listener, "x", 1, 0), ENOTCONN);
    ERR("recv from a listener", recv(listener, &r, 1, MSG_DONTWAIT), EINVAL);
    int unconnected;
    OK("socket seqpacket", unconnected, socket(AF_UNIX, SOCK_SEQPACKET, 0));
    ERR("seqpacket recv unconnected", recv(unconnected, &r, 1, MSG_DONTWAIT), ENOTCONN);
    ERR("seqpacket send unconnected", send(unconnected, "x", 1, 0), ENOTCONN);
    close(unconnected);
    OK("socket stream", unconnected, socket(AF_UNIX, SOCK_STREAM, 0));
    ERR("stream send unconnected", send(unconnected, "x", 1, MSG_NOSIGNAL), ENOTCONN);
    ERR("stream sendto unconnected", sendto(unconnected, "x", 1, 0, (struct sockaddr *)&sun, len), EOPNOTSUPP);
    ERR("stream sendto connected", sendto(fd, "x", 1, 0, (struct sockaddr *)&sun, len), EISCONN);
    struct pollfd p = {unconnected, POLLIN | POLLOUT, 0};
    TRUE("poll unconnected stream", poll(&p, 1, 0) == 1);
    printf("unconnected revents %#x\n", p.revents);
    close(unconnected);
    int value;
    socklen_t vlen = sizeof value;
    TRUE("SO_ACCEPTCONN listener", getsockopt(listener, SOL_SOCKET, SO_ACCEPTCONN, &value, &vlen) == 0 && value == 1);
    vlen = sizeof value;
    TRUE("SO_ACCEPTCONN client", getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &vlen) == 0 && value == 0);
    close(fd);
    close(listener);
    close(dgram);
}

static void client(int n)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect_to(fd, "server.sock") != 0)
        exit(2);
    struct sockaddr_un got;
    socklen_t got_len = sizeof got;
    if (getpeername(fd, (struct sockaddr *)&got, &got_len) != 0 || strcmp(got.sun_path, "server.sock") != 0)
        exit(3);
    struct ucred cred;
    socklen_t cred_len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0 || cred_len != sizeof cred ||
        cred.pid != getppid() || cred.uid != geteuid() || cred.gid != getegid())
        exit(4);
    char message[32], reply[64];
    int length = snprintf(message, sizeof message, "client %d", n);
    if (write(fd, message, length) != length)
        exit(5);
    ssize_t got_bytes = read(fd, reply, sizeof reply - 1);
    if (got_bytes <= 0)
        exit(6);
    reply[got_bytes] = 0;
    char expected[64];
    snprintf(expected, sizeof expected, "hello, client %d", n);
    if (strcmp(reply, expected) != 0)
        exit(7);
    if (read(fd, reply, sizeof reply) != 0) /* the server closed: EOF */
        exit(8);
    exit(0);
}

static void test_server(void)
{
    int listener = bound(SOCK_STREAM, "server.sock"), r;
    OK("listen", r, listen(listener, 8));
    struct pollfd p = {listener, POLLIN | POLLOUT, 0};
    TRUE("listener not ready", poll(&p, 1, 0) == 0);
    pid_t pids[3];
    for (int i = 0; i < 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            client(i);
    }
    p.revents = 0;
    TRUE("listener readable", poll(&p, 1, 5000) == 1 && p.revents == POLLIN);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        struct sockaddr_un peer;
        socklen_t peer_len = sizeof peer;
        int conn;
        OK("accept4", conn, accept4(listener, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC));
        TRUE("client is unnamed", peer_len == 2 && peer.sun_family == AF_UNIX);
        TRUE("accepted CLOEXEC", fcntl(conn, F_GETFD) == FD_CLOEXEC && !(fcntl(conn, F_GETFL) & O_NONBLOCK));
        struct sockaddr_un me;
        socklen_t me_len = sizeof me;
        TRUE("accepted name is the server's", getsockname(conn, (struct sockaddr *)&me, &me_len) == 0 &&
                                                  strcmp(me.sun_path, "server.sock") == 0);
        struct ucred cred;
        socklen_t cred_len = sizeof cred;
        TRUE("SO_PEERCRED", getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0 &&
                                (cred.pid == pids[0] || cred.pid == pids[1] || cred.pid == pids[2]) &&
                                cred.uid == geteuid() && cred.gid == getegid());
        char message[32];
        ssize_t n = read(conn, message, sizeof message - 1);
        TRUE("read request", n > 0);
        message[n] = 0;
        int which = message[7] - '0';
        seen |= 1 << which;
        char reply[64];
        int length = snprintf(reply, sizeof reply, "hello, %s", message);
        TRUE("reply", write(conn, reply, length) == length);
        close(conn);
    }
    TRUE("all three clients", seen == 7);
    for (int i = 0; i < 3; i++)
        wait_child(pids[i], "client done");
    struct ucred cred;
    socklen_t cred_len = sizeof cred;
    int lone = socket(AF_UNIX, SOCK_STREAM, 0);
    TRUE("SO_PEERCRED unconnected", getsockopt(lone, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0 &&
                                        cred.pid == 0 && cred.uid == (uid_t)-1 && cred.gid == (gid_t)-1);
    close(lone);
    close(listener);
}

static void test_backlog(void)
{
    int listener = bound(SOCK_STREAM, "backlog.sock"), r, a, b, c;
    OK("listen 0", r, listen(listener, 0));
    OK("socket a", a, socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    OK("socket b", b, socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    OK("connect nonblocking at once", r, connect_to(a, "backlog.sock"));
    ERR("backlog full", connect_to(b, "backlog.sock"), EAGAIN);
    TRUE("write before accept", write(a, "early", 5) == 5);
    int conn;
    OK("accept", conn, accept4(listener, NULL, NULL, SOCK_NONBLOCK));
    TRUE("accepted O_NONBLOCK", fcntl(conn, F_GETFL) & O_NONBLOCK);
    char buf[16];
    TRUE("early data", read(conn, buf, sizeof buf) == 5 && memcmp(buf, "early", 5) == 0);
    ERR("accepted empty", read(conn, buf, sizeof buf), EAGAIN);
    fcntl(listener, F_SETFL, O_NONBLOCK);
    ERR("accept none waiting", accept(listener, NULL, NULL), EAGAIN);
    fcntl(listener, F_SETFL, 0);
    OK("connect b now", r, connect_to(b, "backlog.sock"));
    /* a blocking connect waits for room */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect_to(fd, "backlog.sock") != 0)
            exit(2);
        if (write(fd, "late", 4) != 4)
            exit(3);
        exit(0);
    }
    usleep(100000);
    OK("accept b", c, accept(listener, NULL, NULL));
    close(c);
    OK("accept the blocked one", c, accept(listener, NULL, NULL));
    TRUE("its data", read(c, buf, 4) == 4 && memcmp(buf, "late", 4) == 0);
    wait_child(pid, "blocked connect done");
    close(c);
    /* the listener closes with a connection never accepted: a reset for the client */
    OK("socket d", c, socket(AF_UNIX, SOCK_STREAM, 0));
    int d = c;
    OK("connect d", r, connect_to(d, "backlog.sock"));
    close(listener);
    ERR("never accepted: reset", read(d, buf, sizeof buf), ECONNRESET);
    TRUE("then EOF", read(d, buf, sizeof buf) == 0);
    close(d);
    close(a);
    close(b);
    close(conn);
}

static void test_dgram(void)
{
    int a = bound(SOCK_DGRAM, "a.dgram"), b = bound(SOCK_DGRAM, "b.dgram"), anon, r;
    struct sockaddr_un to, from;
    socklen_t to_len = make_addr(&to, "b.dgram"), from_len;
    char buf[32];
    TRUE("sendto b", sendto(a, "one", 3, 0, (struct sockaddr *)&to, to_len) == 3);
    from_len = sizeof from;
    TRUE("recvfrom names a", recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len) == 3 &&
                                 from_len == offsetof(struct sockaddr_un, sun_path) + 8 &&
                                 strcmp(from.sun_path, "a.dgram") == 0);
    OK("socket anon", anon, socket(AF_UNIX, SOCK_DGRAM, 0));
    TRUE("anon sendto b", sendto(anon, "two", 3, 0, (struct sockaddr *)&to, to_len) == 3);
    from_len = sizeof from;
    TRUE("unnamed sender", recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len) == 3 &&
                               from_len == 0);
    ERR("send unconnected", send(anon, "x", 1, 0), ENOTCONN);
    struct sockaddr_un missing;
    socklen_t missing_len = make_addr(&missing, "no.dgram");
    ERR("sendto missing", sendto(anon, "x", 1, 0, (struct sockaddr *)&missing, missing_len), ENOENT);
    ERR("sendto bad family", sendto(anon, "x", 1, 0, (struct sockaddr *)&missing, 1), EINVAL);
    OK("connect b to a", r, connect_to(b, "a.dgram"));
    struct sockaddr_un peer;
    socklen_t peer_len = sizeof peer;
    TRUE("dgram peer name", getpeername(b, (struct sockaddr *)&peer, &peer_len) == 0 &&
                                strcmp(peer.sun_path, "a.dgram") == 0);
    struct sockaddr_un b_addr;
    socklen_t b_len = make_addr(&b_addr, "b.dgram");
    ERR("b only hears a", sendto(anon, "x", 1, 0, (struct sockaddr *)&b_addr, b_len), EPERM);
    TRUE("send on connected", send(b, "three", 5, 0) == 5);
    TRUE("a gets it", recv(a, buf, sizeof buf, 0) == 5 && memcmp(buf, "three", 5) == 0);
    TRUE("a answers", sendto(a, "four", 4, 0, (struct sockaddr *)&b_addr, b_len) == 4);
    TRUE("b gets it", recv(b, buf, sizeof buf, 0) == 4);
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    OK("disconnect", r, connect(b, &unspec, sizeof unspec));
    TRUE("anon may send again", sendto(anon, "five", 4, 0, (struct sockaddr *)&b_addr, b_len) == 4);
    TRUE("b gets five", recv(b, buf, sizeof buf, 0) == 4 && memcmp(buf, "five", 4) == 0);
    OK("connect anon to b", r, connect_to(anon, "b.dgram"));
    close(b);
    ERR("peer gone: refused", send(anon, "x", 1, 0), ECONNREFUSED);
    ERR("then not connected", send(anon, "x", 1, 0), ENOTCONN);
    /* a datagram socket talking across fork by name */
    pid_t pid = fork();
    if (pid == 0) {
        int fd = bound(SOCK_DGRAM, "child.dgram");
        struct sockaddr_un parent;
        socklen_t parent_len = make_addr(&parent, "a.dgram");
        if (sendto(fd, "ping", 4, 0, (struct sockaddr *)&parent, parent_len) != 4)
            exit(2);
        char reply[8];
        if (recv(fd, reply, sizeof reply, 0) != 4 || memcmp(reply, "pong", 4) != 0)
            exit(3);
        exit(0);
    }
    from_len = sizeof from;
    TRUE("ping from child", recvfrom(a, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len) == 4 &&
                                strcmp(from.sun_path, "child.dgram") == 0);
    TRUE("pong", sendto(a, "pong", 4, 0, (struct sockaddr *)&from, from_len) == 4);
    wait_child(pid, "dgram child done");
    close(a);
    close(anon);
}

static int send_fds(int sock, const int *fds, int count, const char *data)
{
    char control[CMSG_SPACE(sizeof(int) * 8)];
    memset(control, 0, sizeof control);
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * count)};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
    return sendmsg(sock, &msg, 0);
}

/* Receive with `room` bytes of control buffer; the fds (up to 8) into `fds`, their count
 * returned; msg_flags into *flags. */
static int recv_fds(int sock, size_t room, int *fds, int *flags, char *data, size_t size)
{
    char control[256];
    struct iovec iov = {data, size};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = room ? control : NULL,
                         .msg_controllen = room};
    ssize_t n = recvmsg(sock, &msg, 0);
    if (n < 0)
        return -1;
    data[n] = 0;
    *flags = msg.msg_flags;
    int count = 0;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
            int n_fds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + count, CMSG_DATA(cmsg), n_fds * sizeof(int));
            count += n_fds;
        }
    }
    return count;
}

static void test_rights(void)
{
    int listener = bound(SOCK_STREAM, "rights.sock"), r;
    OK("listen", r, listen(listener, 4));
    pid_t pid = fork();
    if (pid == 0) {
        /* the child opens a pipe and a file and passes them to the parent */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect_to(fd, "rights.sock") != 0)
            exit(2);
        int pipefd[2];
        if (pipe(pipefd) != 0 || write(pipefd[1], "through the pipe", 16) != 16)
            exit(3);
        int file = open("passed.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
        if (file < 0 || write(file, "file contents", 13) != 13 || lseek(file, 5, SEEK_SET) != 5)
            exit(4);
        int fds[2] = {pipefd[0], file};
        if (send_fds(fd, fds, 2, "two") != 3)
            exit(5);
        close(pipefd[0]);
        close(file);
        int three[3] = {pipefd[1], pipefd[1], pipefd[1]};
        if (send_fds(fd, three, 3, "three") != 5)
            exit(6);
        if (send_fds(fd, three, 1, "none") != 4)
            exit(7);
        char ack;
        if (read(fd, &ack, 1) != 1) /* wait until the parent is done */
            exit(8);
        exit(0);
    }
    int conn;
    OK("accept", conn, accept(listener, NULL, NULL));
    int fds[8], flags;
    char data[32];
    TRUE("two fds", recv_fds(conn, CMSG_SPACE(sizeof(int) * 2), fds, &flags, data, 3) == 2 &&
                        strcmp(data, "two") == 0 && flags == 0);
    char buf[32];
    TRUE("read the passed pipe", read(fds[0], buf, 16) == 16 && memcmp(buf, "through the pipe", 16) == 0);
    TRUE("passed file shares the offset", lseek(fds[1], 0, SEEK_CUR) == 5 && read(fds[1], buf, 8) == 8 &&
                                              memcmp(buf, "contents", 8) == 0);
    TRUE("new fds are not CLOEXEC", fcntl(fds[0], F_GETFD) == 0);
    close(fds[0]);
    close(fds[1]);
    int before = dup(0);
    close(before);
    int count = recv_fds(conn, CMSG_SPACE(sizeof(int)), fds, &flags, data, 5);
    printf("room for two: %d fds, data %s, flags %#x\n", count, data, flags);
    TRUE("room for two of three", count == 2 && strcmp(data, "three") == 0 && flags == MSG_CTRUNC);
    TRUE("the first is the lowest free fd", fds[0] == before && fds[1] == before + 1);
    TRUE("and the pipe's write end", (fcntl(fds[0], F_GETFL) & O_ACCMODE) == O_WRONLY);
    close(fds[0]);
    close(fds[1]);
    int again = dup(0);
    int next = dup(0);
    int third = dup(0);
    TRUE("the third was closed", again == before && next == before + 1 && third == before + 2);
    close(next);
    close(third);
    close(again);
    TRUE("no control buffer", recv_fds(conn, 0, fds, &flags, data, 4) == 0 && strcmp(data, "none") == 0 &&
                                  flags == MSG_CTRUNC);
    TRUE("ack", write(conn, "k", 1) == 1);
    wait_child(pid, "rights child done");
    close(conn);
    close(listener);

    /* over a datagram pair, with MSG_CMSG_CLOEXEC; a read(2) drops the files */
    int pair[2];
    OK("socketpair dgram", r, socketpair(AF_UNIX, SOCK_DGRAM, 0, pair));
    int zero = 0;
    TRUE("send stdin", send_fds(pair[0], &zero, 1, "fd0") == 3);
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    TRUE("recvmsg cloexec", recvmsg(pair[1], &msg, MSG_CMSG_CLOEXEC) == 3 && msg.msg_controllen == sizeof control);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    int got;
    memcpy(&got, CMSG_DATA(cmsg), sizeof got);
    TRUE("received CLOEXEC", cmsg->cmsg_type == SCM_RIGHTS && fcntl(got, F_GETFD) == FD_CLOEXEC);
    close(got);
    TRUE("send again", send_fds(pair[0], &zero, 1, "fd0") == 3);
    int lowest = dup(0);
    close(lowest);
    TRUE("read(2) drops them", read(pair[1], buf, sizeof buf) == 3);
    TRUE("no fd installed", dup(0) == lowest);
    close(lowest);

    /* bad control messages */
    char bad[CMSG_SPACE(sizeof(int))];
    memset(bad, 0, sizeof bad);
    struct iovec one = {"x", 1};
    struct msghdr m = {.msg_iov = &one, .msg_iovlen = 1, .msg_control = bad, .msg_controllen = sizeof bad};
    struct cmsghdr *c = (struct cmsghdr *)bad;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = 8;
    ERR("cmsg_len too small", sendmsg(pair[0], &m, 0), EINVAL);
    c->cmsg_len = sizeof bad + 1;
    ERR("cmsg_len too large", sendmsg(pair[0], &m, 0), EINVAL);
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int badfd = 99;
    memcpy(CMSG_DATA(c), &badfd, sizeof badfd);
    ERR("SCM_RIGHTS bad fd", sendmsg(pair[0], &m, 0), EBADF);
    c->cmsg_type = 77;
    ERR("unknown SOL_SOCKET type", sendmsg(pair[0], &m, 0), EINVAL);
    c->cmsg_level = 6; /* SOL_TCP: ignored */
    TRUE("other level ignored", sendmsg(pair[0], &m, 0) == 1);
    TRUE("drain", recv(pair[1], buf, sizeof buf, 0) == 1);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    ERR("SCM_CREDENTIALS wrong size", sendmsg(pair[0], &m, 0), EINVAL);
    m.msg_controllen = 8; /* shorter than a cmsghdr: no control messages at all */
    TRUE("short control ignored", sendmsg(pair[0], &m, 0) == 1);
    TRUE("drain 2", recv(pair[1], buf, sizeof buf, 0) == 1);
    close(pair[0]);
    close(pair[1]);
}

/* MSG_PEEK passes the files too (new descriptors each time); a stream read stops at the
 * end of the bytes that carried files. */
static void test_peek_rights(void)
{
    for (int type = SOCK_STREAM; type <= SOCK_DGRAM; type++) {
        int pair[2], zero = 0, flags, fds[8], r;
        char data[16];
        OK("socketpair", r, socketpair(AF_UNIX, type, 0, pair));
        TRUE("send with a file", send_fds(pair[0], &zero, 1, "abc") == 3);
        TRUE("send more", send(pair[0], "de", 2, 0) == 2);
        int lowest = dup(0);
        close(lowest);
        TRUE("peek", recvmsg(pair[1], &(struct msghdr){.msg_iov = &(struct iovec){data, sizeof data},
                                                        .msg_iovlen = 1}, MSG_PEEK) == 3);
        TRUE("no control buffer: nothing installed", dup(0) == lowest);
        close(lowest);
        int peeked = -1, count;
        {
            char control[CMSG_SPACE(sizeof(int))];
            struct iovec iov = {data, sizeof data};
            struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                                 .msg_controllen = sizeof control};
            TRUE("peek with control", recvmsg(pair[1], &msg, MSG_PEEK) == 3);
            memcpy(&peeked, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof peeked);
        }
        TRUE("peek installs a descriptor", peeked == lowest);
        count = recv_fds(pair[1], CMSG_SPACE(sizeof(int)), fds, &flags, data, sizeof data - 1);
        TRUE("the read stops after the file's bytes", count == 1 && strcmp(data, "abc") == 0 &&
                                                          fds[0] == lowest + 1);
        TRUE("then the rest", recv_fds(pair[1], CMSG_SPACE(sizeof(int)), fds, &flags, data, sizeof data - 1) == 0 &&
                                  strcmp(data, "de") == 0);
        close(peeked);
        close(lowest + 1);
        close(pair[0]);
        close(pair[1]);
    }
}

static void test_credentials(void)
{
    int pair[2], r, on = 1;
    OK("socketpair", r, socketpair(AF_UNIX, SOCK_DGRAM, 0, pair));
    OK("SO_PASSCRED", r, setsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    int value = 0;
    socklen_t len = sizeof value;
    TRUE("SO_PASSCRED on", getsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &value, &len) == 0 && value == 1);
    pid_t pid = fork();
    if (pid == 0) {
        if (send(pair[0], "hi", 2, 0) != 2)
            exit(2);
        exit(0);
    }
    wait_child(pid, "creds child done");
    char buf[8];
    char control[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    TRUE("recvmsg", recvmsg(pair[1], &msg, 0) == 2);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    struct ucred cred;
    TRUE("SCM_CREDENTIALS", cmsg && cmsg->cmsg_type == SCM_CREDENTIALS &&
                                cmsg->cmsg_len == CMSG_LEN(sizeof cred));
    memcpy(&cred, CMSG_DATA(cmsg), sizeof cred);
    TRUE("the child's credentials", cred.pid == pid && cred.uid == geteuid() && cred.gid == getegid());
    /* sending our own credentials explicitly */
    struct ucred mine = {getpid(), getuid(), getgid()};
    char out[CMSG_SPACE(sizeof mine)];
    memset(out, 0, sizeof out);
    struct iovec one = {"y", 1};
    struct msghdr m = {.msg_iov = &one, .msg_iovlen = 1, .msg_control = out, .msg_controllen = sizeof out};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof mine);
    memcpy(CMSG_DATA(c), &mine, sizeof mine);
    TRUE("send own credentials", sendmsg(pair[0], &m, 0) == 1);
    msg.msg_controllen = sizeof control;
    TRUE("recvmsg 2", recvmsg(pair[1], &msg, 0) == 1);
    memcpy(&cred, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof cred);
    TRUE("as sent", cred.pid == getpid() && cred.uid == getuid());
    mine.uid = (uid_t)-1;
    memcpy(CMSG_DATA(c), &mine, sizeof mine);
    ERR("uid -1", sendmsg(pair[0], &m, 0), EINVAL);
    /* a control buffer too small for the credentials */
    TRUE("send 3", send(pair[0], "z", 1, 0) == 1);
    msg.msg_controllen = sizeof(struct cmsghdr) + 4;
    TRUE("recvmsg short control", recvmsg(pair[1], &msg, 0) == 1 && msg.msg_flags == MSG_CTRUNC &&
                                      msg.msg_controllen == sizeof(struct cmsghdr) + 4);
    close(pair[0]);
    close(pair[1]);
}

static void test_seqpacket(void)
{
    struct sockaddr_un addr, me, peer;
    socklen_t len = make_abstract(&addr, "pykern-seqpacket"), me_len, peer_len;
    int listener, client, server, ep, r, on = 1;
    OK("socket seqpacket", listener, socket(AF_UNIX, SOCK_SEQPACKET, 0));
    OK("bind abstract", r, bind(listener, (struct sockaddr *)&addr, len));
    OK("listen", r, listen(listener, 2));
    OK("epoll_create1", ep, epoll_create1(0));
    struct epoll_event ev = {EPOLLIN, {.fd = listener}};
    OK("epoll_ctl listener", r, epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev));
    TRUE("epoll: nothing yet", epoll_wait(ep, &ev, 1, 0) == 0);
    OK("socket client", client, socket(AF_UNIX, SOCK_SEQPACKET, 0));
    OK("SO_PASSCRED client", r, setsockopt(client, SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    OK("connect", r, connect(client, (struct sockaddr *)&addr, len));
    me_len = sizeof me;
    TRUE("SO_PASSCRED autobinds", getsockname(client, (struct sockaddr *)&me, &me_len) == 0 && me_len == 8 &&
                                      me.sun_path[0] == 0);
    TRUE("epoll: a connection waits", epoll_wait(ep, &ev, 1, 0) == 1 && ev.events == EPOLLIN &&
                                          ev.data.fd == listener);
    peer_len = sizeof peer;
    OK("accept", server, accept(listener, (struct sockaddr *)&peer, &peer_len));
    TRUE("the client's autobound name", peer_len == 8 && memcmp(peer.sun_path, me.sun_path, 6) == 0);
    TRUE("epoll: none left", epoll_wait(ep, &ev, 1, 0) == 0);
    TRUE("send abc", send(client, "abc", 3, 0) == 3);
    TRUE("send defgh", send(client, "defgh", 5, 0) == 5);
    char buf[16];
    struct iovec iov = {buf, 2};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    TRUE("recvmsg cut", recvmsg(server, &msg, 0) == 2 && msg.msg_flags == MSG_TRUNC && memcmp(buf, "ab", 2) == 0);
    TRUE("next message whole", recv(server, buf, sizeof buf, 0) == 5 && memcmp(buf, "defgh", 5) == 0);
    TRUE("shutdown listener", shutdown(listener, SHUT_RDWR) == 0);
    int late;
    OK("socket late", late, socket(AF_UNIX, SOCK_SEQPACKET, 0));
    ERR("connect to a shut listener", connect(late, (struct sockaddr *)&addr, len), ECONNREFUSED);
    close(late);
    close(client);
    peer_len = sizeof peer;
    TRUE("getpeername after the peer closed", getpeername(server, (struct sockaddr *)&peer, &peer_len) == 0 &&
                                                  peer_len == 8);
    TRUE("EOF", recv(server, buf, sizeof buf, 0) == 0);
    close(server);
    close(listener);
    close(ep);

    /* SCM_CREDENTIALS over a stream */
    int pair[2];
    OK("socketpair stream", r, socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
    OK("SO_PASSCRED", r, setsockopt(pair[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    TRUE("write", write(pair[0], "xy", 2) == 2);
    char control[64];
    iov.iov_len = sizeof buf;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    TRUE("recvmsg stream", recvmsg(pair[1], &msg, 0) == 2);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    struct ucred cred;
    TRUE("stream credentials", cmsg && cmsg->cmsg_type == SCM_CREDENTIALS && msg.msg_controllen == 32);
    memcpy(&cred, CMSG_DATA(cmsg), sizeof cred);
    TRUE("ours", cred.pid == getpid() && cred.uid == geteuid());
    close(pair[0]);
    close(pair[1]);
}

static void test_permissions(void)
{
    /* as an unprivileged user: no write permission on the node, nor on the directory */
    int listener = bound(SOCK_STREAM, "private.sock"), r;
    OK("listen", r, listen(listener, 4));
    OK("chmod 0700", r, chmod("private.sock", 0700));
    OK("mkdir closed", r, mkdir("closed", 0755));
    OK("chmod dir", r, chmod(".", 0777));
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            exit(2);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect_to(fd, "private.sock") == 0 || errno != EACCES)
            exit(3);
        struct sockaddr_un sun;
        socklen_t len = make_addr(&sun, "closed/x.sock");
        if (bind(fd, (struct sockaddr *)&sun, len) == 0 || errno != EACCES)
            exit(4);
        exit(0);
    }
    if (geteuid() == 0)
        wait_child(pid, "EACCES for nobody");
    else {
        waitpid(pid, NULL, 0);
        printf("ok EACCES for nobody\n");
    }
    close(listener);
}

/* `unix_sockets connect PATH`: a client of a server pykern does not run (a host daemon's
 * socket, in tests/test_unix_host.py): send a line, print the reply, the peer's name and
 * whether SO_PEERCRED names the same user; then half-close and wait for the server's EOF. */
static int host_client(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect_to(fd, path) != 0) {
        printf("connect: %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_un peer;
    socklen_t peer_len = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0)
        printf("peer %s\n", strcmp(peer.sun_path, path) == 0 ? "is the path" : peer.sun_path);
    struct ucred cred;
    socklen_t cred_len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0)
        printf("peer uid %s\n", cred.uid == geteuid() ? "is ours" : "differs");
    const char *line = "hello from the guest\n";
    if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
        return 2;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1)
        return 3;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return 4;
    buf[n] = 0;
    printf("reply: %s", buf);
    shutdown(fd, SHUT_WR);
    printf("then %zd\n", read(fd, buf, sizeof buf));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "connect") == 0)
        return host_client(argv[2]);
    enter_tmpdir("unix");
    signal(SIGPIPE, SIG_IGN);
    test_socket();
    test_bind();
    test_refusals();
    test_server();
    test_backlog();
    test_dgram();
    test_rights();
    test_peek_rights();
    test_credentials();
    test_seqpacket();
    test_permissions();
    printf("done\n");
    return 0;
}
