/* clock_consistency: time reads agree and never go back, within a thread, across threads
 * and across a fork: clock_gettime through libc (the vDSO), through the raw syscall,
 * gettimeofday and time() are ordered as they are made; an interval timer, a timerfd and
 * a nanosleep take at least the time they asked for. The same natively and under pykern,
 * with or without --deterministic (where the clock is virtual). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static int64_t libc_ns(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return ns_of(t);
}

static int64_t sys_ns(clockid_t clock) {
    struct timespec t;
    syscall(SYS_clock_gettime, clock, &t);
    return ns_of(t);
}

static int64_t tod_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* 1 if reads through every route never go back, 0 otherwise. */
static int ordered_reads(int rounds) {
    int64_t last_mono = 0, last_real = 0;
    time_t last_secs = 0;
    for (int i = 0; i < rounds; i++) {
        int64_t a = libc_ns(CLOCK_MONOTONIC), b = sys_ns(CLOCK_MONOTONIC), c = libc_ns(CLOCK_MONOTONIC);
        if (a < last_mono || b < a || c < b)
            return 0;
        last_mono = c;
        int64_t r1 = libc_ns(CLOCK_REALTIME), us = tod_us(), r2 = sys_ns(CLOCK_REALTIME);
        time_t secs = time(NULL);
        int64_t r3 = libc_ns(CLOCK_REALTIME);
        /* time() may be a tick behind CLOCK_REALTIME (Linux reads the coarse clock), never ahead */
        if (r1 < last_real || us < r1 / 1000 || r2 / 1000 < us || secs < last_secs || r3 / 1000000000 < secs)
            return 0;
        last_real = r3;
        last_secs = secs;
    }
    return 1;
}

static int64_t shared_last;  /* the latest CLOCK_MONOTONIC any thread read, under the lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int threads_ordered = 1;

static void *reader(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&lock);
        int64_t now = libc_ns(CLOCK_MONOTONIC);  /* (the vDSO: a trace without a race in it) */
        if (now < shared_last)
            threads_ordered = 0;
        shared_last = now;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

int main(void) {
    CHECK(ordered_reads(500), "vDSO, syscall, gettimeofday and time() reads are ordered and never go back");

    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&threads[i], NULL, reader, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    CHECK(threads_ordered, "CLOCK_MONOTONIC never goes back across threads");

    int64_t before_fork = libc_ns(CLOCK_MONOTONIC);
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t child = fork();
    if (child == 0) {
        int64_t in_child = sys_ns(CLOCK_MONOTONIC);
        write(fds[1], &in_child, sizeof in_child);
        _exit(ordered_reads(200) ? 0 : 1);
    }
    int64_t in_child = 0;
    read(fds[0], &in_child, sizeof in_child);
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child's reads are ordered too");
    CHECK(in_child >= before_fork && libc_ns(CLOCK_MONOTONIC) >= in_child,
          "the child's clock is the parent's: never behind a read made before the fork");

    int64_t start = libc_ns(CLOCK_MONOTONIC);
    struct timespec nap = {0, 300000000};
    CHECK(nanosleep(&nap, NULL) == 0, "nanosleep 300 ms");
    CHECK(libc_ns(CLOCK_MONOTONIC) - start >= 300000000, "at least 300 ms passed");

    signal(SIGALRM, on_alarm);
    struct itimerval every = {{0, 100000}, {0, 100000}};
    start = libc_ns(CLOCK_MONOTONIC);
    CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0, "setitimer ITIMER_REAL every 100 ms");
    while (alarms < 3)
        pause();
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    CHECK(libc_ns(CLOCK_MONOTONIC) - start >= 300000000, "three 100 ms alarms took at least 300 ms");

    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(tfd >= 0, "timerfd_create");
    struct itimerspec once = {{0, 0}, {0, 250000000}};
    start = libc_ns(CLOCK_MONOTONIC);
    CHECK(timerfd_settime(tfd, 0, &once, NULL) == 0, "timerfd 250 ms");
    uint64_t expirations = 0;
    CHECK(read(tfd, &expirations, sizeof expirations) == sizeof expirations && expirations == 1,
          "the timerfd expired once");
    CHECK(libc_ns(CLOCK_MONOTONIC) - start >= 250000000, "and not before 250 ms");

    int64_t cpu_before = libc_ns(CLOCK_PROCESS_CPUTIME_ID);
    volatile uint64_t spin = 0;
    for (int i = 0; i < 3000000; i++)
        spin += i;
    CHECK(libc_ns(CLOCK_PROCESS_CPUTIME_ID) > cpu_before, "CPU time advances while the process computes");
    return 0;
}
