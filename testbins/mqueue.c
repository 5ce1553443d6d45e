/* mqueue: POSIX message queues against Linux. Priorities (highest first, FIFO within
 * one), O_NONBLOCK's EAGAIN, timeouts (ETIMEDOUT), a receiver that sleeps until another
 * process sends, mq_notify with SIGEV_SIGNAL (si_code SI_MESGQ, si_value, once) and
 * SIGEV_NONE, EBUSY, mq_getsetattr, poll, the queue's file in /dev/mqueue, and the
 * bad-input errnos of mq_open, mq_send, mq_receive and mq_unlink. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MQUEUE_MAGIC 0x19800202

static char name[64];

static struct timespec in_ms(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += ms * 1000000;
    ts.tv_sec += ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

static volatile sig_atomic_t got_sig, got_code, got_value, got_pid;

static void on_usr1(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    got_sig = sig;
    got_code = si->si_code;
    got_value = si->si_value.sival_int;
    got_pid = si->si_pid;
}

int main(void)
{
    snprintf(name, sizeof name, "/pykern-mq-%d", getpid());
    mq_unlink(name);
    struct mq_attr attr = {.mq_flags = 0, .mq_maxmsg = 4, .mq_msgsize = 32};
    mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    CHECK(q >= 0, "mq_open O_CREAT|O_EXCL");
    CHECK(fcntl(q, F_GETFD) == FD_CLOEXEC, "mq descriptors are close-on-exec");
    struct mq_attr got;
    CHECK(mq_getattr(q, &got) == 0 && got.mq_maxmsg == 4 && got.mq_msgsize == 32 && got.mq_curmsgs == 0 &&
          got.mq_flags == 0, "mq_getattr");

    CHECK(mq_send(q, "low", 3, 1) == 0 && mq_send(q, "high", 4, 9) == 0 && mq_send(q, "low2", 4, 1) == 0 &&
          mq_send(q, "mid", 3, 5) == 0, "four messages sent");
    CHECK(mq_getattr(q, &got) == 0 && got.mq_curmsgs == 4, "curmsgs 4");
    struct pollfd pfd = {q, POLLIN | POLLOUT, 0};
    CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLIN, "full queue polls POLLIN only");
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(q, &rd);
    FD_SET(q, &wr);
    struct timeval tv0 = {0, 0};
    CHECK(select(q + 1, &rd, &wr, NULL, &tv0) == 1 && FD_ISSET(q, &rd) && !FD_ISSET(q, &wr), "select: readable only");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = q}, out;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev) == 0 && epoll_wait(ep, &out, 1, 0) == 1 && out.events == EPOLLIN,
          "epoll: EPOLLIN only");

    struct timespec ts = in_ms(50);
    errno = 0;
    CHECK(mq_timedsend(q, "x", 1, 0, &ts) == -1 && errno == ETIMEDOUT, "send to a full queue times out");
    struct mq_attr nb = {.mq_flags = O_NONBLOCK}, old;
    CHECK(mq_setattr(q, &nb, &old) == 0 && old.mq_flags == 0, "mq_setattr O_NONBLOCK");
    errno = 0;
    CHECK(mq_send(q, "x", 1, 0) == -1 && errno == EAGAIN, "full and O_NONBLOCK: EAGAIN");

    /* the queue's file in /dev/mqueue (when this Linux has it mounted) */
    struct statfs sfs;
    if (statfs("/dev/mqueue", &sfs) == 0 && sfs.f_type == MQUEUE_MAGIC) {
        char path[128], text[256];
        snprintf(path, sizeof path, "/dev/mqueue%s", name);
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
        if (n >= 0)
            text[n] = 0;
        CHECK(n > 0 && strcmp(text, "QSIZE:14         NOTIFY:0     SIGNO:0     NOTIFY_PID:0     \n") == 0,
              "the queue's file reads QSIZE");
        struct stat st;
        CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0600, "its file is a 0600 file");
        close(fd);
    } else {
        printf("ok the queue's file reads QSIZE\nok its file is a 0600 file\n");
    }

    char buf[64];
    unsigned prio;
    errno = 0;
    CHECK(mq_receive(q, buf, 16, &prio) == -1 && errno == EMSGSIZE, "buffer smaller than mq_msgsize: EMSGSIZE");
    const char *want[] = {"high", "mid", "low", "low2"};
    unsigned want_prio[] = {9, 5, 1, 1};
    for (int i = 0; i < 4; i++) {
        ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
        buf[n > 0 ? n : 0] = 0;
        CHECK(n == (ssize_t)strlen(want[i]) && strcmp(buf, want[i]) == 0 && prio == want_prio[i],
              "received by priority, FIFO within one");
    }
    errno = 0;
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == -1 && errno == EAGAIN, "empty and O_NONBLOCK: EAGAIN");
    CHECK(mq_setattr(q, &old, NULL) == 0, "blocking again");
    ts = in_ms(50);
    errno = 0;
    CHECK(mq_timedreceive(q, buf, sizeof buf, &prio, &ts) == -1 && errno == ETIMEDOUT, "receive times out");
    ts.tv_nsec = 2000000000;
    errno = 0;
    CHECK(mq_timedreceive(q, buf, sizeof buf, &prio, &ts) == -1 && errno == EINVAL, "bad timeout: EINVAL");

    /* epoll_wait asleep until another process sends */
    ev.events = EPOLLIN;
    epoll_ctl(ep, EPOLL_CTL_MOD, q, &ev);
    pid_t child = fork();
    if (child == 0) {
        usleep(100000);
        _exit(mq_send(q, "poke", 4, 2) == 0 ? 0 : 1);
    }
    int n_ready = epoll_wait(ep, &out, 1, 5000);
    int status;
    waitpid(child, &status, 0);
    CHECK(n_ready == 1 && out.events == EPOLLIN && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "epoll_wait woke for another process's message");
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 4 && prio == 2, "received it");
    close(ep);

    /* a receiver asleep in another process */
    child = fork();
    if (child == 0) {
        ssize_t n = mq_receive(q, buf, sizeof buf, &prio);
        CHECK(n == 5 && memcmp(buf, "wake!", 5) == 0 && prio == 3, "child: woke with the message");
        _exit(0);
    }
    usleep(100000);
    int rc = mq_send(q, "wake!", 5, 3);
    waitpid(child, &status, 0);
    CHECK(rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "sleeping receiver got it");

    /* mq_notify */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 1234;
    CHECK(mq_notify(q, &sev) == 0, "mq_notify SIGEV_SIGNAL");
    errno = 0;
    CHECK(mq_notify(q, &sev) == -1 && errno == EBUSY, "registered twice: EBUSY");
    sigset_t usr1, none;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &none); /* the notification arrives after waitpid, not during */
    child = fork();
    if (child == 0) {
        errno = 0;
        CHECK(mq_notify(q, &sev) == -1 && errno == EBUSY, "child: another process's registration: EBUSY");
        _exit(mq_send(q, "note", 4, 0) == 0 ? 0 : 1);
    }
    waitpid(child, &status, 0);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int i = 0; i < 1000 && !got_sig; i++)
        usleep(1000);
    CHECK(got_sig == SIGUSR1 && got_code == SI_MESGQ && got_value == 1234 && got_pid == child,
          "notified: SIGUSR1, SI_MESGQ, the value, the sender's pid");
    got_sig = 0;
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 4 && mq_send(q, "again", 5, 0) == 0, "receive, send again");
    usleep(10000);
    CHECK(got_sig == 0, "notification happens once");
    CHECK(mq_receive(q, buf, sizeof buf, &prio) == 5, "drained");
    sev.sigev_notify = SIGEV_NONE;
    CHECK(mq_notify(q, &sev) == 0 && mq_notify(q, NULL) == 0 && mq_notify(q, &sev) == 0, "SIGEV_NONE, unregister");
    CHECK(mq_send(q, "quiet", 5, 0) == 0 && mq_notify(q, &sev) == 0, "SIGEV_NONE ended with the message");
    sev.sigev_notify = 99;
    errno = 0;
    CHECK(mq_notify(q, &sev) == -1 && errno == EINVAL, "bad sigev_notify: EINVAL");

    /* errors */
    errno = 0;
    CHECK(mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr) == (mqd_t)-1 && errno == EEXIST, "O_EXCL again: EEXIST");
    errno = 0;
    CHECK(mq_open("/pykern-mq-missing", O_RDWR) == (mqd_t)-1 && errno == ENOENT, "missing: ENOENT");
    errno = 0;
    CHECK(mq_open("noslash", O_RDWR | O_CREAT, 0600, NULL) == (mqd_t)-1 && errno == EINVAL, "name without /: EINVAL");
    errno = 0;
    CHECK(mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL) == (mqd_t)-1 && errno == EACCES, "name with a /: EACCES");
    char longname[300];
    memset(longname, 'n', sizeof longname);
    longname[0] = '/';
    longname[299] = 0;
    errno = 0;
    CHECK(mq_open(longname, O_RDWR | O_CREAT, 0600, NULL) == (mqd_t)-1 && errno == ENAMETOOLONG, "long name: ENAMETOOLONG");
    struct mq_attr bad = {.mq_maxmsg = 0, .mq_msgsize = 8};
    errno = 0;
    CHECK(mq_open("/pykern-mq-bad", O_RDWR | O_CREAT, 0600, &bad) == (mqd_t)-1 && errno == EINVAL, "mq_maxmsg 0: EINVAL");
    errno = 0;
    CHECK(mq_send(q, "x", 1, 40000) == -1 && errno == EINVAL, "priority past MQ_PRIO_MAX: EINVAL");
    errno = 0;
    CHECK(mq_send(q, buf, 33, 0) == -1 && errno == EMSGSIZE, "longer than mq_msgsize: EMSGSIZE");
    errno = 0;
    CHECK(mq_send(1, "x", 1, 0) == -1 && errno == EBADF, "not a queue: EBADF");
    mqd_t ro = mq_open(name, O_RDONLY);
    errno = 0;
    CHECK(ro >= 0 && mq_send(ro, "x", 1, 0) == -1 && errno == EBADF, "send on a read-only descriptor: EBADF");
    mq_close(ro);
    nb.mq_flags = 1;
    errno = 0;
    CHECK(mq_setattr(q, &nb, NULL) == -1 && errno == EINVAL, "mq_setattr other flags: EINVAL");

    CHECK(mq_unlink(name) == 0, "mq_unlink");
    errno = 0;
    CHECK(mq_unlink(name) == -1 && errno == ENOENT, "mq_unlink again: ENOENT");
    CHECK(mq_send(q, "after", 5, 0) == 0 && mq_receive(q, buf, sizeof buf, &prio) == 5, "unlinked queue still works");
    CHECK(mq_close(q) == 0, "mq_close");
    return 0;
}
