/* epoll: epoll_create/create1, epoll_ctl's errors (EEXIST, ENOENT, EPERM for regular
 * files and /dev/null, EINVAL, EBADF), level-triggered readiness with the user's data,
 * timeouts, waking when another process writes, EPOLLONESHOT, EPOLLET, EPOLLHUP,
 * epoll_pwait's signal mask, an epoll fd inside poll(); eventfd: counter and semaphore
 * modes, EAGAIN, bad sizes and values, inside epoll. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

int main(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0 && (fcntl(ep, F_GETFD) & FD_CLOEXEC), "epoll_create1(EPOLL_CLOEXEC)");
    CHECK(epoll_create(0) == -1 && errno == EINVAL, "epoll_create(0): EINVAL");
    CHECK(epoll_create1(1) == -1 && errno == EINVAL, "epoll_create1 bad flags: EINVAL");

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42}, out[4];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0, "EPOLL_CTL_ADD");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == -1 && errno == EEXIST, "ADD twice: EEXIST");
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev) == -1 && errno == ENOENT, "MOD of an absent fd: ENOENT");
    int regular = open("testbins/epoll.c", O_RDONLY), devnull = open("/dev/null", O_RDWR);
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, regular, &ev) == -1 && errno == EPERM, "a regular file: EPERM");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, devnull, &ev) == -1 && errno == EPERM, "/dev/null: EPERM");
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev) == -1 && errno == EINVAL, "itself: EINVAL");
    CHECK(epoll_ctl(p[1], EPOLL_CTL_ADD, p[0], &ev) == -1 && errno == EINVAL, "epfd not an epoll: EINVAL");
    int closed = dup(0);
    close(closed);
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, closed, &ev) == -1 && errno == EBADF, "closed fd: EBADF");
    CHECK(epoll_ctl(ep, 99, p[0], &ev) == -1 && errno == EINVAL, "bad op: EINVAL");
    CHECK(epoll_wait(ep, out, 0, 0) == -1 && errno == EINVAL, "maxevents 0: EINVAL");

    CHECK(epoll_wait(ep, out, 4, 0) == 0, "nothing ready");
    long long t0 = now_ms();
    CHECK(epoll_wait(ep, out, 4, 30) == 0 && now_ms() - t0 >= 30, "timeout after 30 ms");
    CHECK(write(p[1], "ab", 2) == 2, "write");
    CHECK(epoll_wait(ep, out, 4, 0) == 1 && out[0].events == EPOLLIN && out[0].data.u64 == 42,
          "ready: EPOLLIN with the user's data");
    CHECK(epoll_wait(ep, out, 4, 0) == 1, "level-triggered: still ready while unread");
    struct pollfd pe = {ep, POLLIN, 0};
    CHECK(poll(&pe, 1, 0) == 1 && pe.revents == POLLIN, "the epoll fd itself polls readable");
    char buf[16];
    CHECK(read(p[0], buf, sizeof buf) == 2, "drain");
    CHECK(epoll_wait(ep, out, 4, 0) == 0, "drained: not ready");

    pid_t child = later(20, p[1], 0);
    CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.u64 == 42, "wakes when another process writes");
    waitpid(child, NULL, 0);
    CHECK(read(p[0], buf, sizeof buf) == 1, "drain");

    /* EPOLLONESHOT: once, then disarmed until MOD. */
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 7;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "MOD to EPOLLONESHOT");
    CHECK(write(p[1], "x", 1) == 1, "write");
    CHECK(epoll_wait(ep, out, 4, 0) == 1 && out[0].data.u64 == 7, "oneshot: reported");
    CHECK(epoll_wait(ep, out, 4, 0) == 0, "oneshot: not again");
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0 && epoll_wait(ep, out, 4, 0) == 1, "re-armed by MOD");
    CHECK(read(p[0], buf, sizeof buf) == 1, "drain");

    /* EPOLLET: reported on the change to ready, not again while unread. */
    ev.events = EPOLLIN | EPOLLET;
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev) == 0, "MOD to EPOLLET");
    CHECK(write(p[1], "y", 1) == 1, "write");
    CHECK(epoll_wait(ep, out, 4, 0) == 1, "edge: reported");
    CHECK(epoll_wait(ep, out, 4, 0) == 0, "edge: not again while unread");
    CHECK(read(p[0], buf, sizeof buf) == 1, "drain");
    CHECK(write(p[1], "z", 1) == 1, "write again");
    CHECK(epoll_wait(ep, out, 4, 0) == 1, "edge: reported for the new data");

    /* Hang-up, then DEL. */
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    close(p[1]);
    CHECK(epoll_wait(ep, out, 4, 0) == 1 && out[0].events == (EPOLLIN | EPOLLHUP), "writer gone: EPOLLIN|EPOLLHUP");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == 0, "DEL");
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL) == -1 && errno == ENOENT, "DEL twice: ENOENT");
    close(p[0]);

    /* eventfd. */
    int efd = eventfd(0, EFD_NONBLOCK);
    uint64_t value = 3;
    CHECK(efd >= 0 && read(efd, &value, 8) == -1 && errno == EAGAIN, "eventfd at 0: EAGAIN");
    value = 3;
    CHECK(write(efd, &value, 8) == 8 && write(efd, &value, 8) == 8, "eventfd: add 3 twice");
    CHECK(read(efd, &value, 8) == 8 && value == 6, "eventfd: read takes 6");
    CHECK(read(efd, &value, 4) == -1 && errno == EINVAL, "eventfd: a 4-byte read is EINVAL");
    value = UINT64_MAX;
    CHECK(write(efd, &value, 8) == -1 && errno == EINVAL, "eventfd: writing 2^64-1 is EINVAL");
    int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    CHECK(read(sem, &value, 8) == 8 && value == 1 && read(sem, &value, 8) == 8 && value == 1,
          "semaphore: 1 at a time");
    CHECK(read(sem, &value, 8) == -1 && errno == EAGAIN, "semaphore: then EAGAIN");
    ev.events = EPOLLIN;
    ev.data.fd = efd;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == 0 && epoll_wait(ep, out, 4, 0) == 0, "eventfd in epoll: idle");
    value = 1;
    CHECK(write(efd, &value, 8) == 8 && epoll_wait(ep, out, 4, 0) == 1 && out[0].data.fd == efd,
          "eventfd in epoll: readable after a write");

    /* epoll_pwait with a temporary mask. */
    struct sigaction sa = {0};
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t usr1, empty, now;
    sigemptyset(&usr1);
    sigemptyset(&empty);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    read(efd, &value, 8);
    child = later(20, -1, SIGUSR1);
    CHECK(epoll_pwait(ep, out, 4, -1, &empty) == -1 && errno == EINTR && hits == 1,
          "epoll_pwait: EINTR after the handler");
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK(sigismember(&now, SIGUSR1), "epoll_pwait: the old mask is back");
    waitpid(child, NULL, 0);

    printf("epoll: ok\n");
    return 0;
}
