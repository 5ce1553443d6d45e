/* splice_anon: splice and sendfile to and from kernel-made files that Linux cannot splice
 * (epoll, eventfd, signalfd, timerfd, inotify, pidfd: no splice_read/splice_write) fail
 * with EINVAL at once (EBADF for the read-only inotify as a destination), before waiting: a splice from an empty pipe whose writer is open
 * into one of them does not wait for the pipe's data, a splice from an eventfd whose
 * count is 0 (or an unarmed timerfd) into a pipe does not wait for the count. LTP's
 * splice07 hung under pykern on the first (pipe read end -> epoll). An alarm ends a
 * call that waits instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int failures;

static void on_alarm(int sig)
{
    (void)sig;
}

static void expect(const char *what, long r, int expected)
{
    int e = errno;
    if (r == -1 && e == expected) {
        printf("%s: %s\n", what, strerror(e));
        return;
    }
    printf("%s: %ld %s (expected %s)\n", what, r, r == -1 ? strerror(e) : "", strerror(expected));
    failures++;
}

static void expect_einval(const char *what, long r)
{
    expect(what, r, EINVAL);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;  /* no SA_RESTART: a call that waits ends with EINTR */
    sigaction(SIGALRM, &sa, NULL);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    struct {
        const char *name;
        int fd;
    } files[] = {
        {"epoll", epoll_create1(0)},
        {"eventfd", eventfd(0, 0)},
        {"signalfd", signalfd(-1, &mask, 0)},
        {"timerfd", timerfd_create(CLOCK_MONOTONIC, 0)},
        {"inotify", inotify_init1(0)},
        {"pidfd", (int)syscall(SYS_pidfd_open, getpid(), 0)},
    };
    int empty[2], room[2];
    if (pipe(empty) || pipe(room)) {
        perror("pipe");
        return 1;
    }
    char path[] = "/tmp/splice_anon_XXXXXX";
    int file = mkstemp(path);
    if (file < 0 || write(file, "data", 4) != 4) {
        perror("mkstemp");
        return 1;
    }
    unlink(path);
    char what[96];
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        const char *name = files[i].name;
        int fd = files[i].fd;
        if (fd < 0) {
            printf("%s: cannot create: %s\n", name, strerror(errno));
            failures++;
            continue;
        }
        alarm(2);
        snprintf(what, sizeof what, "splice empty pipe -> %s", name);
        /* inotify's file is opened read-only: EBADF comes first */
        expect(what, splice(empty[0], NULL, fd, NULL, 1, 0), strcmp(name, "inotify") ? EINVAL : EBADF);
        snprintf(what, sizeof what, "splice %s -> pipe", name);
        expect_einval(what, splice(fd, NULL, room[1], NULL, 1, 0));
        snprintf(what, sizeof what, "sendfile %s -> pipe", name);
        expect_einval(what, sendfile(room[1], fd, NULL, 1));
        snprintf(what, sizeof what, "sendfile %s -> file", name);
        expect_einval(what, sendfile(file, fd, NULL, 1));
        if (i <= 1) {  /* an eventfd takes write(2), yet not sendfile's splice */
            off_t at = 0;
            snprintf(what, sizeof what, "sendfile file -> %s", name);
            expect_einval(what, sendfile(fd, file, &at, 4));
        }
        alarm(0);
        close(fd);
    }
    return failures ? 1 : 0;
}
