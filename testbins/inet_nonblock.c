/* inet_nonblock: non-blocking TCP on loopback. connect on a SOCK_NONBLOCK socket
 * (EINPROGRESS or at once), poll for POLLOUT, SO_ERROR 0; connect again (0, then EISCONN);
 * connect to a closed port (ECONNREFUSED, at once or through SO_ERROR after poll, and
 * for a blocking socket); accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC and EAGAIN on an empty
 * queue; recv EAGAIN and MSG_DONTWAIT; FIONBIO and fcntl(O_NONBLOCK); FIONREAD; select
 * on a listener; a blocking accept woken by a client in another process. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int listener(struct sockaddr_in *sa)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *sa;
    if (bind(ls, (struct sockaddr *)sa, sizeof *sa) || listen(ls, 8) || getsockname(ls, (struct sockaddr *)sa, &len)) {
        perror("listener");
        exit(1);
    }
    return ls;
}

static int closed_port(struct sockaddr_in *sa)
{
    /* a port bound but not listening: nobody accepts there */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *sa;
    bind(fd, (struct sockaddr *)sa, sizeof *sa);
    getsockname(fd, (struct sockaddr *)sa, &len);
    return fd;
}

int main(void)
{
    struct sockaddr_in sa;
    int ls = listener(&sa);

    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(c >= 0 && (fcntl(c, F_GETFL) & O_NONBLOCK), "SOCK_NONBLOCK sets O_NONBLOCK");
    int r = connect(c, (struct sockaddr *)&sa, sizeof sa);
    CHECK(r == 0 || errno == EINPROGRESS, "non-blocking connect: EINPROGRESS or done");
    struct pollfd p = {c, POLLOUT, 0};
    CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLOUT), "poll: POLLOUT when connected");
    int err = -1;
    socklen_t len = sizeof err;
    CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0, "SO_ERROR 0");
    r = connect(c, (struct sockaddr *)&sa, sizeof sa);
    CHECK(r == 0 || errno == EISCONN, "connect again: 0 (or EISCONN if it was done at once)");
    r = connect(c, (struct sockaddr *)&sa, sizeof sa);
    CHECK(r == -1 && errno == EISCONN, "and again: EISCONN");

    int a = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK(a >= 0, "accept4");
    CHECK((fcntl(a, F_GETFL) & O_NONBLOCK) && (fcntl(a, F_GETFD) & FD_CLOEXEC), "accept4 flags");
    int lsflags = fcntl(ls, F_GETFL);
    fcntl(ls, F_SETFL, lsflags | O_NONBLOCK);
    CHECK(accept(ls, NULL, NULL) == -1 && errno == EAGAIN, "accept on an empty queue: EAGAIN");
    fcntl(ls, F_SETFL, lsflags);

    char buf[16];
    CHECK(recv(a, buf, sizeof buf, 0) == -1 && errno == EAGAIN, "recv on empty: EAGAIN");
    int on = 0;
    CHECK(ioctl(a, FIONBIO, &on) == 0 && !(fcntl(a, F_GETFL) & O_NONBLOCK), "FIONBIO off");
    CHECK(recv(a, buf, sizeof buf, MSG_DONTWAIT) == -1 && errno == EAGAIN, "MSG_DONTWAIT: EAGAIN");
    CHECK(send(c, "12345", 5, 0) == 5, "send");
    p.fd = a;
    p.events = POLLIN;
    CHECK(poll(&p, 1, 5000) == 1 && (p.revents & POLLIN), "poll: POLLIN");
    int avail = 0;
    CHECK(ioctl(a, FIONREAD, &avail) == 0 && avail == 5, "FIONREAD 5");
    CHECK(recv(a, buf, sizeof buf, 0) == 5 && !memcmp(buf, "12345", 5), "recv");
    close(a);
    close(c);

    /* connect to a port nobody listens on */
    struct sockaddr_in dead;
    int holder = closed_port(&dead);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    r = connect(c, (struct sockaddr *)&dead, sizeof dead);
    if (r == -1 && errno == EINPROGRESS) {
        p.fd = c;
        p.events = POLLOUT;
        CHECK(poll(&p, 1, 5000) == 1, "poll after a refused connect");
        len = sizeof err;
        CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == ECONNREFUSED, "SO_ERROR ECONNREFUSED");
    } else {
        CHECK(r == -1 && errno == ECONNREFUSED, "SO_ERROR ECONNREFUSED");
    }
    puts("refused");
    close(c);
    c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&dead, sizeof dead) == -1 && errno == ECONNREFUSED,
          "blocking connect: ECONNREFUSED");
    close(c);
    close(holder);

    /* select on the listener while another process connects; a blocking accept */
    pid_t child = fork();
    if (child == 0) {
        usleep(20000);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa)) {
            perror("child connect");
            _exit(1);
        }
        write(s, "hi", 2);
        close(s);
        _exit(0);
    }
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(ls, &rd);
    CHECK(select(ls + 1, &rd, NULL, NULL, NULL) == 1 && FD_ISSET(ls, &rd), "select: the listener is readable");
    a = accept(ls, NULL, NULL);
    CHECK(a >= 0, "accept");
    CHECK(read(a, buf, sizeof buf) == 2, "read the child's bytes");
    CHECK(read(a, buf, sizeof buf) == 0, "then EOF");
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child");
    close(a);

    child = fork();
    if (child == 0) {
        usleep(20000);
        int s = socket(AF_INET, SOCK_STREAM, 0);
        connect(s, (struct sockaddr *)&sa, sizeof sa);
        close(s);
        _exit(0);
    }
    a = accept(ls, NULL, NULL);
    CHECK(a >= 0, "a blocking accept is woken by another process's connect");
    waitpid(child, &status, 0);
    close(a);
    close(ls);
    puts("done");
    return 0;
}
