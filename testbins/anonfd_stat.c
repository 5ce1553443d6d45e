/* anonfd_stat: fstat and ftruncate on descriptors with no file behind them (eventfd,
 * epoll, signalfd, timerfd, a pipe): fstat succeeds (anon inodes have mode 0600 and no
 * file type; a pipe is a FIFO) and ftruncate fails with EINVAL. Found by the soak's
 * syscall fuzzer: pykern's eventfd and epoll had no stat (a Python traceback). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

static int failures;

static void probe(const char *name, int fd)
{
    struct stat st;
    if (fd < 0) {
        printf("%s: cannot create: %s\n", name, strerror(errno));
        failures++;
        return;
    }
    int r = fstat(fd, &st);
    printf("%s: fstat %s, type %o, mode %o, size %lld\n", name, r == 0 ? "ok" : strerror(errno),
           r == 0 ? st.st_mode & S_IFMT : 0, r == 0 ? st.st_mode & 07777 : 0, r == 0 ? (long long)st.st_size : -1);
    r = ftruncate(fd, 0);
    printf("%s: ftruncate %s\n", name, r == 0 ? "ok" : strerror(errno));
    failures += r == 0;
}

int main(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    int pipefd[2];
    probe("eventfd", eventfd(0, 0));
    probe("epoll", epoll_create1(0));
    probe("signalfd", signalfd(-1, &mask, 0));
    probe("timerfd", timerfd_create(CLOCK_MONOTONIC, 0));
    if (pipe(pipefd) == 0) {
        probe("pipe read end", pipefd[0]);
        probe("pipe write end", pipefd[1]);
    }
    return failures ? 1 : 0;
}
