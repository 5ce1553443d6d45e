/* poll: poll, ppoll, select and pselect on pipes, /dev/null and a regular file:
 * readiness (POLLIN, POLLOUT, POLLHUP, POLLERR, POLLNVAL), timeouts (0, a few ms, none),
 * waking when another process writes, a full pipe not writable, select's sets and
 * updated timeout, EBADF and EINVAL, and pselect/ppoll's signal mask (EINTR after the
 * handler, the old mask back afterwards). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "waits.h"

static volatile sig_atomic_t hits;

static void on_usr1(int sig)
{
    (void)sig;
    hits++;
}

static void reap(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
}

int main(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd fds[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    CHECK(poll(fds, 2, 0) == 1 && fds[0].revents == 0 && fds[1].revents == POLLOUT,
          "empty pipe: write end ready, read end not");
    CHECK(write(p[1], "ab", 2) == 2, "write");
    CHECK(poll(fds, 2, 0) == 2 && fds[0].revents == POLLIN, "data: read end POLLIN");

    char buf[70000];
    CHECK(read(p[0], buf, sizeof buf) == 2, "drain");
    long long t0 = now_ms();
    CHECK(poll(fds, 1, 30) == 0 && fds[0].revents == 0, "timeout: 0 ready");
    CHECK(now_ms() - t0 >= 30, "after at least 30 ms");

    pid_t child = later(20, p[1], 0);
    CHECK(poll(fds, 1, -1) == 1 && fds[0].revents == POLLIN, "poll wakes when another process writes");
    CHECK(read(p[0], buf, 1) == 1, "read the byte");
    reap(child);

    /* A full pipe is not writable. */
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    while (write(p[1], buf, sizeof buf) > 0)
        ;
    CHECK(poll(&fds[1], 1, 0) == 0, "full pipe: not writable");
    while (read(p[0], buf, sizeof buf) == sizeof buf)
        ;
    CHECK(poll(&fds[1], 1, 0) == 1, "drained: writable again");

    /* Hang-up and error. */
    CHECK(write(p[1], "z", 1) == 1, "one byte left in it");
    close(p[1]);
    CHECK(poll(fds, 1, 0) == 1 && fds[0].revents == (POLLIN | POLLHUP), "writer gone: POLLIN|POLLHUP");
    CHECK(read(p[0], buf, 1) == 1 && poll(fds, 1, 0) == 1 && fds[0].revents == POLLHUP, "then POLLHUP alone");
    close(p[0]);
    CHECK(pipe(p) == 0, "pipe");
    close(p[0]);
    struct pollfd w = {p[1], POLLOUT, 0};
    CHECK(poll(&w, 1, 0) == 1 && w.revents == (POLLOUT | POLLERR), "reader gone: POLLOUT|POLLERR");
    close(p[1]);

    /* Bad and negative fds; files that never block. */
    int devnull = open("/dev/null", O_RDWR);
    int regular = open("testbins/poll.c", O_RDONLY);
    int unused = dup(0);
    close(unused);
    struct pollfd misc[4] = {{unused, POLLIN, 0}, {-1, POLLIN, 0}, {devnull, POLLIN | POLLOUT, 0},
                             {regular, POLLIN | POLLOUT | POLLPRI, 0}};
    CHECK(poll(misc, 4, 0) == 3, "three with something to report");
    CHECK(misc[0].revents == POLLNVAL && misc[1].revents == 0, "bad fd POLLNVAL, negative fd ignored");
    CHECK(misc[2].revents == (POLLIN | POLLOUT) && misc[3].revents == (POLLIN | POLLOUT),
          "/dev/null and a regular file: always ready");
    CHECK(poll(NULL, 0, 10) == 0, "poll with no fds sleeps");

    /* select: sets, the timeout updated, EBADF, EINVAL. */
    CHECK(pipe(p) == 0, "pipe");
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p[0], &rd);
    FD_SET(p[1], &wr);
    struct timeval tv = {0, 0};
    CHECK(select(p[1] + 1, &rd, &wr, NULL, &tv) == 1 && !FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr),
          "select: only the write end");
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    child = later(20, p[1], 0);
    CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(p[0], &rd), "select wakes for data");
    CHECK(tv.tv_sec >= 3 && tv.tv_sec <= 4, "select left the time remaining in the timeval");
    reap(child);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    tv.tv_sec = 0;
    tv.tv_usec = 20000;
    CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == 1, "unread data: still ready");
    CHECK(read(p[0], buf, 1) == 1, "read it");
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    CHECK(select(p[0] + 1, &rd, NULL, NULL, &tv) == 0 && !FD_ISSET(p[0], &rd) && tv.tv_usec == 0,
          "select timeout: empty set, zero left");
    int closed = dup(0);
    close(closed);
    FD_ZERO(&rd);
    FD_SET(closed, &rd);
    tv.tv_usec = 0;
    CHECK(select(closed + 1, &rd, NULL, NULL, &tv) == -1 && errno == EBADF, "select on a closed fd: EBADF");
    CHECK(select(-1, NULL, NULL, NULL, &tv) == -1 && errno == EINVAL, "select nfds -1: EINVAL");

    /* pselect and ppoll wait with a temporary mask. */
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1, empty, now;
    sigemptyset(&usr1);
    sigemptyset(&empty);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    child = later(20, -1, SIGUSR1);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    CHECK(pselect(p[0] + 1, &rd, NULL, NULL, NULL, &empty) == -1 && errno == EINTR && hits == 1,
          "pselect: EINTR after the handler");
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK(sigismember(&now, SIGUSR1), "pselect: the old mask is back");
    reap(child);
    child = later(20, -1, SIGUSR1);
    struct pollfd r = {p[0], POLLIN, 0};
    CHECK(ppoll(&r, 1, NULL, &empty) == -1 && errno == EINTR && hits == 2, "ppoll: EINTR after the handler");
    reap(child);
    struct timespec short_wait = {0, 30000000};
    t0 = now_ms();
    CHECK(ppoll(&r, 1, &short_wait, &empty) == 0 && now_ms() - t0 >= 30, "ppoll timeout");
    kill(getpid(), SIGUSR1);
    CHECK(hits == 2, "blocked: pending");
    CHECK(ppoll(&r, 1, &short_wait, &empty) == -1 && errno == EINTR && hits == 3,
          "ppoll: a pending signal the mask lets through ends it at once");

    printf("poll: ok\n");
    return 0;
}
