/* epoll_add_while_waiting: a file added to an epoll while another thread already sleeps in
 * epoll_wait on it is watched from then on (Linux's ep_insert). Go's netpoller works this
 * way: its poller thread sleeps in epoll_pwait while other threads add pipes and sockets.
 * Found with testbins/go/go_http: os/exec's output pipe, added after the poller slept,
 * never woke it. */
#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int epfd;

static void *waiter(void *arg) {
    struct epoll_event ev;
    int n = epoll_wait(epfd, &ev, 1, 20000);
    *(int *)arg = n == 1 ? (int)ev.data.u32 : -1;
    return NULL;
}

static void *waiter_et(void *arg) {
    struct epoll_event ev;
    int n = epoll_wait(epfd, &ev, 1, 20000);
    *(int *)arg = n == 1 && (ev.events & EPOLLIN) ? (int)ev.data.u32 : -1;
    return NULL;
}

static void pause_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void) {
    int fds[2], got = 0;
    pthread_t thread;

    epfd = epoll_create1(EPOLL_CLOEXEC);
    CHECK(epfd >= 0, "epoll_create1");

    /* The waiter sleeps on an empty epoll; the pipe is added after, then written. */
    CHECK(pthread_create(&thread, NULL, waiter, &got) == 0, "a thread waits on an empty epoll");
    pause_ms(100);
    CHECK(pipe(fds) == 0, "pipe");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
    CHECK(epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &ev) == 0, "the pipe is added while it waits");
    pause_ms(50);
    CHECK(write(fds[1], "x", 1) == 1, "a byte is written");
    CHECK(pthread_join(thread, NULL) == 0, "join");
    CHECK(got == 7, "the waiter saw the pipe it did not know when it went to sleep");
    char c;
    CHECK(read(fds[0], &c, 1) == 1, "read the byte");

    /* Edge-triggered, and the write comes from a forked child, as os/exec's does. */
    int fds2[2];
    CHECK(pipe(fds2) == 0, "a second pipe");
    got = 0;
    CHECK(pthread_create(&thread, NULL, waiter_et, &got) == 0, "a thread waits again");
    pause_ms(100);
    struct epoll_event ev2 = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.u32 = 9};
    CHECK(epoll_ctl(epfd, EPOLL_CTL_DEL, fds[0], NULL) == 0, "the first pipe is removed");
    CHECK(epoll_ctl(epfd, EPOLL_CTL_ADD, fds2[0], &ev2) == 0, "the second is added, edge-triggered");
    pid_t pid = fork();
    if (pid == 0) {
        pause_ms(50);
        _exit(write(fds2[1], "y", 1) == 1 ? 0 : 1);
    }
    CHECK(pthread_join(thread, NULL) == 0, "join");
    CHECK(got == 9, "the child's write woke the waiter");
    return 0;
}
