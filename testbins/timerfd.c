/* timerfd: timerfd_create's clocks and flags (EINVAL for bad ones), a one-shot and an
 * interval timer read as 8-byte expiration counts, EAGAIN when nonblocking, a blocking
 * read, TFD_TIMER_ABSTIME (in the past: expires at once), old_value and gettime, disarming,
 * EINVAL for bad timespecs and non-timerfd fds, poll and epoll readiness, counts that
 * accumulate while nobody reads, and an interval timer driving an epoll loop. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MS 1000000L

static struct itimerspec spec(long value_ns, long interval_ns)
{
    struct itimerspec its = {
        .it_value = {value_ns / 1000000000L, value_ns % 1000000000L},
        .it_interval = {interval_ns / 1000000000L, interval_ns % 1000000000L},
    };
    return its;
}

static long ns(struct timespec ts)
{
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

int main(void)
{
    CHECK(timerfd_create(CLOCK_MONOTONIC, 0x1) == -1 && errno == EINVAL, "bad flags: EINVAL");
    CHECK(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0) == -1 && errno == EINVAL, "CPU clock: EINVAL");
    CHECK(timerfd_create(CLOCK_MONOTONIC_RAW, 0) == -1 && errno == EINVAL, "CLOCK_MONOTONIC_RAW: EINVAL");
    CHECK(timerfd_create(1234, 0) == -1 && errno == EINVAL, "unknown clock: EINVAL");
    int rt = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
    CHECK(rt >= 0 && (fcntl(rt, F_GETFD) & FD_CLOEXEC), "CLOCK_REALTIME, TFD_CLOEXEC");
    int bt = timerfd_create(CLOCK_BOOTTIME, 0);
    CHECK(bt >= 0, "CLOCK_BOOTTIME");
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "CLOCK_MONOTONIC, TFD_NONBLOCK");

    uint64_t count;
    struct itimerspec cur, old;
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_mode == 0600 && st.st_size == 0, "fstat: an anonymous inode, 0600");
    CHECK(read(fd, &count, sizeof count) == -1 && errno == EAGAIN, "disarmed: EAGAIN");
    CHECK(read(fd, &count, 4) == -1 && errno == EINVAL, "a 4-byte read: EINVAL");
    CHECK(timerfd_gettime(fd, &cur) == 0 && ns(cur.it_value) == 0 && ns(cur.it_interval) == 0,
          "gettime of a new timer: zero");

    struct itimerspec bad = spec(MS, 0);
    bad.it_value.tv_nsec = 1000000000L;
    CHECK(timerfd_settime(fd, 0, &bad, NULL) == -1 && errno == EINVAL, "tv_nsec 1e9: EINVAL");
    bad = spec(MS, 0);
    bad.it_interval.tv_sec = -1;
    CHECK(timerfd_settime(fd, 0, &bad, NULL) == -1 && errno == EINVAL, "negative interval: EINVAL");
    struct itimerspec its = spec(MS, 0);
    CHECK(timerfd_settime(fd, 0x10, &its, NULL) == -1 && errno == EINVAL, "bad settime flags: EINVAL");
    CHECK(timerfd_settime(0, 0, &its, NULL) == -1 && errno == EINVAL, "settime on stdin: EINVAL");
    CHECK(timerfd_gettime(99, &cur) == -1 && errno == EBADF, "gettime on a closed fd: EBADF");
    CHECK(timerfd_settime(fd, 0, NULL, NULL) == -1 && errno == EFAULT, "NULL new_value: EFAULT");

    /* one shot */
    its = spec(300 * MS, 0);
    CHECK(timerfd_settime(fd, 0, &its, &old) == 0 && ns(old.it_value) == 0, "arm 300 ms; old value zero");
    CHECK(timerfd_gettime(fd, &cur) == 0 && ns(cur.it_value) > 0 && ns(cur.it_value) <= 300 * MS,
          "gettime: between 0 and 300 ms left");
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK(poll(&pfd, 1, 0) == 0, "poll: not yet");
    CHECK(poll(&pfd, 1, 2000) == 1 && pfd.revents == POLLIN, "poll: readable at expiry");
    CHECK(read(fd, &count, sizeof count) == sizeof count && count == 1, "read: 1 expiration");
    CHECK(read(fd, &count, sizeof count) == -1 && errno == EAGAIN, "then EAGAIN");
    CHECK(timerfd_gettime(fd, &cur) == 0 && ns(cur.it_value) == 0, "expired one shot: value 0");

    /* interval: expirations accumulate */
    its = spec(5 * MS, 5 * MS);
    CHECK(timerfd_settime(fd, 0, &its, NULL) == 0, "arm 5 ms every 5 ms");
    struct timespec nap = {0, 32 * MS};
    nanosleep(&nap, NULL);
    CHECK(read(fd, &count, sizeof count) == sizeof count && count >= 3, "after 32 ms: several expirations");
    CHECK(timerfd_gettime(fd, &cur) == 0 && ns(cur.it_interval) == 5 * MS && ns(cur.it_value) <= 5 * MS,
          "gettime: the interval and under one period left");
    its = spec(0, 0);
    CHECK(timerfd_settime(fd, 0, &its, &old) == 0 && ns(old.it_interval) == 5 * MS, "disarm; old interval 5 ms");
    nanosleep(&nap, NULL);
    CHECK(read(fd, &count, sizeof count) == -1 && errno == EAGAIN, "disarmed: nothing more");

    /* settime resets the count */
    its = spec(1 * MS, 0);
    timerfd_settime(fd, 0, &its, NULL);
    nanosleep(&nap, NULL);
    its = spec(10000 * MS, 0);
    timerfd_settime(fd, 0, &its, NULL);
    CHECK(read(fd, &count, sizeof count) == -1 && errno == EAGAIN, "re-arming drops unread expirations");

    /* absolute times */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    its = spec(0, 0);
    its.it_value.tv_sec = now.tv_sec - 10;
    CHECK(timerfd_settime(rt, TFD_TIMER_ABSTIME, &its, NULL) == 0, "realtime, absolute, in the past");
    CHECK(read(rt, &count, sizeof count) == sizeof count && count == 1, "expires at once (blocking read)");
    clock_gettime(CLOCK_REALTIME, &now);
    its = spec(0, 0);
    its.it_value.tv_sec = now.tv_sec;
    its.it_value.tv_nsec = now.tv_nsec;
    its.it_value.tv_nsec += 30 * MS;
    if (its.it_value.tv_nsec >= 1000000000L) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000L;
    }
    CHECK(timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) == 0,
          "realtime, absolute 30 ms ahead, CANCEL_ON_SET");
    CHECK(read(rt, &count, sizeof count) == sizeof count && count == 1, "a blocking read waits for it");
    its = spec(10000 * MS, 0);
    CHECK(timerfd_settime(fd, TFD_TIMER_CANCEL_ON_SET, &its, NULL) == 0, "CANCEL_ON_SET alone is ignored");
    clock_gettime(CLOCK_BOOTTIME, &now);
    its = spec(0, 4 * MS);
    its.it_value = now;
    CHECK(timerfd_settime(bt, TFD_TIMER_ABSTIME, &its, NULL) == 0, "boottime, absolute now, 4 ms interval");
    nanosleep(&nap, NULL);
    CHECK(read(bt, &count, sizeof count) == sizeof count && count >= 5, "missed periods are counted");

    /* an epoll loop over two interval timers */
    int ep = epoll_create1(0);
    int a = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), b = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 1}, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev);
    ev.data.u32 = 2;
    epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev);
    CHECK(epoll_wait(ep, out, 4, 0) == 0, "epoll: nothing armed");
    its = spec(3 * MS, 3 * MS);
    timerfd_settime(a, 0, &its, NULL);
    its = spec(7 * MS, 7 * MS);
    timerfd_settime(b, 0, &its, NULL);
    uint64_t total_a = 0, total_b = 0;
    while (total_a < 10 || total_b < 4) {
        int n = epoll_wait(ep, out, 4, 2000);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            int which = out[i].data.u32 == 1 ? a : b;
            if (read(which, &count, sizeof count) == sizeof count)
                *(out[i].data.u32 == 1 ? &total_a : &total_b) += count;
        }
    }
    CHECK(total_a >= 10 && total_b >= 4, "epoll loop: both timers keep firing");
    its = spec(0, 0);
    timerfd_settime(a, 0, &its, NULL);
    timerfd_settime(b, 0, &its, NULL);
    read(a, &count, sizeof count);
    read(b, &count, sizeof count);
    CHECK(epoll_wait(ep, out, 4, 20) == 0, "epoll: quiet once both are disarmed");
    close(a);
    close(b);
    puts("done");
    return 0;
}
