/* pidfd: pidfd_open (EINVAL for bad flags and pids, ESRCH for none, always close-on-exec),
 * polling readable when the process exits (poll and epoll), pidfd_send_signal (with and
 * without a siginfo, EINVAL for flags, EBADF for another kind of fd, ESRCH once dead),
 * pidfd_getfd (a duplicate of the child's pipe end), waitid(P_PIDFD) with ECHILD for a
 * non-child and EAGAIN for a PIDFD_NONBLOCK pidfd, clone's CLONE_PIDFD and clone3's
 * pidfd field. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

static int pidfd_open(pid_t pid, unsigned flags)
{
    return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags)
{
    return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}

static int pidfd_getfd(int fd, int target, unsigned flags)
{
    return syscall(SYS_pidfd_getfd, fd, target, flags);
}

static pid_t sleeper(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid;
}

int main(void)
{
    CHECK(pidfd_open(getpid(), 1) == -1 && errno == EINVAL, "bad flags: EINVAL");
    CHECK(pidfd_open(0, 0) == -1 && errno == EINVAL, "pid 0: EINVAL");
    CHECK(pidfd_open(-1, 0) == -1 && errno == EINVAL, "pid -1: EINVAL");
    CHECK(pidfd_open(4000000, 0) == -1 && errno == ESRCH, "no such pid: ESRCH");
    int self = pidfd_open(getpid(), 0);
    CHECK(self >= 0 && (fcntl(self, F_GETFD) & FD_CLOEXEC), "pidfd_open(self): close-on-exec");
    struct pollfd pfd = {.fd = self, .events = POLLIN};
    CHECK(poll(&pfd, 1, 0) == 0, "a live process: not readable");
    char byte;
    CHECK(read(self, &byte, 1) == -1 && errno == EINVAL, "read: EINVAL");
    CHECK(pidfd_send_signal(self, 0, NULL, 0) == 0, "signal 0 to self");
    CHECK(pidfd_send_signal(self, 0, NULL, 8) == -1 && errno == EINVAL, "bad flags: EINVAL");
    CHECK(pidfd_send_signal(self, 0, NULL, 3) == -1 && errno == EINVAL, "two target flags: EINVAL");
    CHECK(pidfd_send_signal(self, 0, NULL, 2) == 0, "PIDFD_SIGNAL_THREAD_GROUP");
    CHECK(pidfd_send_signal(0, 0, NULL, 0) == -1 && errno == EBADF, "stdin is no pidfd: EBADF");
    CHECK(pidfd_send_signal(self, 65, NULL, 0) == -1 && errno == EINVAL, "signal 65: EINVAL");

    /* a child that exits: poll and epoll see it; waitid(P_PIDFD) reaps it */
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(p[1]);
        read(p[0], &c, 1);
        _exit(7);
    }
    int fd = pidfd_open(child, 0);
    CHECK(fd >= 0, "pidfd_open(child)");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 5}, out[2];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD a pidfd");
    CHECK(epoll_wait(ep, out, 2, 0) == 0, "epoll: child alive");

    int theirs = pidfd_getfd(fd, p[0], 0);
    CHECK(theirs >= 0 && (fcntl(theirs, F_GETFD) & FD_CLOEXEC), "pidfd_getfd: the child's pipe end, CLOEXEC");
    CHECK(pidfd_getfd(fd, 99, 0) == -1 && errno == EBADF, "pidfd_getfd of a closed fd: EBADF");
    CHECK(pidfd_getfd(fd, p[0], 1) == -1 && errno == EINVAL, "pidfd_getfd flags: EINVAL");
    close(theirs);

    siginfo_t info;
    CHECK(waitid(P_PIDFD, self, &info, WEXITED | WNOHANG) == -1 && errno == ECHILD, "waitid on self: ECHILD");
    CHECK(waitid(P_PIDFD, 0, &info, WEXITED) == -1 && errno == EBADF, "waitid(P_PIDFD, stdin): EBADF");
    info.si_pid = 1;
    CHECK(waitid(P_PIDFD, fd, &info, WEXITED | WNOHANG) == 0 && info.si_pid == 0, "WNOHANG: still running");

    CHECK(write(p[1], "x", 1) == 1, "let the child go");
    CHECK(epoll_wait(ep, out, 2, 5000) == 1 && out[0].data.u32 == 5 && (out[0].events & EPOLLIN),
          "epoll: readable when the child exits");
    pfd.fd = fd;
    CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLIN, "poll: POLLIN for the zombie");
    CHECK(pidfd_send_signal(fd, SIGTERM, NULL, 0) == 0, "signal a zombie: fine, as kill(2)");
    CHECK(pidfd_getfd(fd, 0, 0) == -1 && errno == ESRCH, "pidfd_getfd from a zombie: ESRCH");
    CHECK(waitid(P_PIDFD, fd, &info, WEXITED) == 0 && info.si_pid == child && info.si_code == CLD_EXITED &&
              info.si_status == 7,
          "waitid(P_PIDFD): exited with 7");
    CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == (POLLIN | POLLHUP), "poll after reaping: POLLIN|POLLHUP");
    CHECK(waitid(P_PIDFD, fd, &info, WEXITED) == -1 && errno == ECHILD, "waitid again: ECHILD");
    CHECK(pidfd_send_signal(fd, SIGTERM, NULL, 0) == -1 && errno == ESRCH, "signal a reaped process: ESRCH");
    close(fd);
    close(p[0]);
    close(p[1]);

    /* pidfd_send_signal kills a child; with a siginfo, the child must be ourselves */
    child = sleeper();
    fd = pidfd_open(child, PIDFD_NONBLOCK);
    CHECK(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK), "PIDFD_NONBLOCK");
    CHECK(waitid(P_PIDFD, fd, &info, WEXITED) == -1 && errno == EAGAIN, "waitid on a nonblocking pidfd: EAGAIN");
    siginfo_t si = {.si_signo = SIGTERM, .si_code = SI_QUEUE};
    CHECK(pidfd_send_signal(fd, SIGKILL, &si, 0) == -1 && errno == EINVAL, "si_signo differs: EINVAL");
    si.si_code = SI_USER;
    CHECK(pidfd_send_signal(fd, SIGTERM, &si, 0) == -1 && errno == EPERM, "SI_USER to another process: EPERM");
    si.si_code = SI_QUEUE;
    CHECK(pidfd_send_signal(fd, SIGTERM, &si, 0) == 0, "SI_QUEUE siginfo: sent");
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "the child died of SIGTERM");
    close(fd);

    /* clone(CLONE_PIDFD) */
    int cfd = -1;
    pid_t c = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &cfd, NULL, 0);
    if (c == 0)
        _exit(9);
    CHECK(c > 0 && cfd >= 0 && (fcntl(cfd, F_GETFD) & FD_CLOEXEC), "clone(CLONE_PIDFD): a pidfd");
    CHECK(waitid(P_PIDFD, cfd, &info, WEXITED) == 0 && info.si_pid == c && info.si_status == 9,
          "waitid(P_PIDFD) on the clone pidfd");
    close(cfd);
    CHECK(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, NULL, &cfd, NULL, 0) == -1 &&
              errno == EINVAL,
          "CLONE_PIDFD with CLONE_PARENT_SETTID: EINVAL");

    /* clone3's pidfd field */
    int pidfd3 = -1;
    struct clone_args args = {.flags = CLONE_PIDFD, .pidfd = (uintptr_t)&pidfd3, .exit_signal = SIGCHLD};
    c = syscall(SYS_clone3, &args, sizeof args);
    if (c == 0)
        _exit(11);
    CHECK(c > 0 && pidfd3 >= 0, "clone3 with CLONE_PIDFD");
    pfd.fd = pidfd3;
    CHECK(poll(&pfd, 1, 5000) == 1, "poll: the clone3 child exits");
    CHECK(waitid(P_PIDFD, pidfd3, &info, WEXITED) == 0 && info.si_status == 11, "and is reaped with 11");
    puts("done");
    return 0;
}
