/* waits.h: helpers of the testbins that wait for something (poll, epoll): a monotonic
 * clock in ms, and a child that, after a delay, writes a byte to a pipe and/or signals
 * its parent. */
#ifndef TESTBINS_WAITS_H
#define TESTBINS_WAITS_H
#include <signal.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* A child that waits `ms`, then writes one byte to `fd` (if >= 0) and sends `sig` (if
 * not 0) to its parent. */
static inline pid_t later(int ms, int fd, int sig)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec ts = {0, ms * 1000000L};
        nanosleep(&ts, NULL);
        if (fd >= 0)
            (void)!write(fd, "w", 1);
        if (sig)
            kill(parent, sig);
        _exit(0);
    }
    return pid;
}

#endif
