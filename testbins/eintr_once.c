/* eintr_once: a signal that comes while a call waits ends the call with EINTR (the
 * handler has no SA_RESTART), and the handler has run: a pipe read, a futex wait,
 * nanosleep (which writes the time left) and wait4.
 *
 * The signal is SIGALRM from an interval timer. With the argument "inject" there is no
 * timer: tests/test_blocking.py's kernel sends SIGALRM as each of the four calls starts
 * (as a signal from another CPU would come), and counts how often each call's handler
 * runs: once, as the call blocks with the signal pending. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t handled;

static void on_alarm(int sig) {
    (void)sig;
    handled++;
}

int main(int argc, char **argv) {
    int inject = argc > 1 && strcmp(argv[1], "inject") == 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: an interrupted call ends with EINTR */
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "SIGALRM handled, without SA_RESTART");
    if (!inject) {
        struct itimerval every = {{0, 20000}, {0, 20000}};
        CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0, "an interval timer every 20 ms");
    }

    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    char byte;
    handled = 0;
    errno = 0;
    ssize_t got = read(fds[0], &byte, 1);
    CHECK(got == -1 && errno == EINTR && handled > 0, "read of an empty pipe ends with EINTR");

    uint32_t word = 0;
    handled = 0;
    errno = 0;
    long r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    CHECK(r == -1 && errno == EINTR && handled > 0, "futex wait ends with EINTR");

    struct timespec req = {10, 0}, rem = {0, 0};
    handled = 0;
    errno = 0;
    r = syscall(SYS_nanosleep, &req, &rem); /* glibc's nanosleep is clock_nanosleep */
    CHECK(r == -1 && errno == EINTR && handled > 0, "nanosleep ends with EINTR");
    CHECK(rem.tv_sec < 10 && (rem.tv_sec > 0 || rem.tv_nsec > 0), "nanosleep writes the time left");

    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    CHECK(child > 0, "fork a child that waits for ever");
    int status = 0;
    handled = 0;
    errno = 0;
    r = wait4(child, &status, 0, NULL);
    CHECK(r == -1 && errno == EINTR && handled > 0, "wait4 ends with EINTR");

    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0, "the timer stopped");
    CHECK(kill(child, SIGKILL) == 0, "kill the child");
    CHECK(wait4(child, &status, 0, NULL) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "wait4 reaps it");
    return 0;
}
