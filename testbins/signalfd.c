/* signalfd: reading blocked signals as struct signalfd_siginfo (kill's pid and uid,
 * sigqueue's value, a thread-directed tgkill), several per read, the mask changed on an
 * existing fd, SFD_NONBLOCK (EAGAIN) and SFD_CLOEXEC, EINVAL for bad flags, sizes and fds,
 * poll and epoll readiness, a child's SIGCHLD with its pid, code and status, a blocked
 * read woken by a signal from another process, and that unblocked signals are delivered
 * rather than read. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t handled;

static void on_usr2(int sig)
{
    (void)sig;
    handled++;
}

int main(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGRTMIN);
    CHECK(sigprocmask(SIG_BLOCK, &mask, NULL) == 0, "block SIGUSR1, SIGCHLD, SIGRTMIN");

    CHECK(signalfd(-1, &mask, 0x1) == -1 && errno == EINVAL, "bad flags: EINVAL");
    CHECK(syscall(SYS_signalfd4, -1, &mask, 4, 0) == -1 && errno == EINVAL, "sizemask 4: EINVAL");
    CHECK(syscall(SYS_signalfd4, -1, (void *)8, 8, 0) == -1 && errno == EFAULT, "bad mask pointer: EFAULT");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    CHECK(signalfd(p[0], &mask, 0) == -1 && errno == EINVAL, "a pipe as the fd: EINVAL");
    CHECK(signalfd(99, &mask, 0) == -1 && errno == EBADF, "a closed fd: EBADF");

    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(sfd >= 0, "signalfd(SFD_NONBLOCK|SFD_CLOEXEC)");
    CHECK(fcntl(sfd, F_GETFD) & FD_CLOEXEC, "close-on-exec set");
    CHECK(fcntl(sfd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK set");
    struct signalfd_siginfo si[4];
    CHECK(read(sfd, si, sizeof si) == -1 && errno == EAGAIN, "nothing pending: EAGAIN");
    CHECK(read(sfd, si, 100) == -1 && errno == EINVAL, "a read under 128 bytes: EINVAL");

    struct pollfd pfd = {.fd = sfd, .events = POLLIN};
    CHECK(poll(&pfd, 1, 0) == 0, "poll: not readable");
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill(self, SIGUSR1)");
    CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLIN, "poll: readable with SIGUSR1 pending");
    sigset_t pending;
    CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1), "still pending before the read");
    CHECK(read(sfd, si, sizeof si) == sizeof si[0], "read: one siginfo");
    CHECK(si[0].ssi_signo == SIGUSR1 && si[0].ssi_code == SI_USER, "ssi_signo SIGUSR1, ssi_code SI_USER");
    CHECK(si[0].ssi_pid == (uint32_t)getpid() && si[0].ssi_uid == getuid(), "ssi_pid and ssi_uid of the sender");
    CHECK(sigpending(&pending) == 0 && !sigismember(&pending, SIGUSR1), "dequeued by the read");

    union sigval value = {.sival_int = 1234};
    CHECK(sigqueue(getpid(), SIGRTMIN, value) == 0, "sigqueue SIGRTMIN 1234");
    value.sival_int = 5678;
    CHECK(sigqueue(getpid(), SIGRTMIN, value) == 0, "sigqueue SIGRTMIN 5678");
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill SIGUSR1");
    CHECK(read(sfd, si, sizeof si) == 3 * sizeof si[0], "one read takes three");
    CHECK(si[0].ssi_signo == SIGUSR1, "lowest number first");
    CHECK(si[1].ssi_signo == (uint32_t)SIGRTMIN && si[1].ssi_code == SI_QUEUE && si[1].ssi_int == 1234,
          "SI_QUEUE with ssi_int 1234");
    CHECK(si[2].ssi_int == 5678 && si[2].ssi_pid == (uint32_t)getpid(), "the second real-time one, in order");

    CHECK(syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1) == 0, "tgkill SIGUSR1 to this thread");
    CHECK(read(sfd, si, sizeof si) == sizeof si[0] && si[0].ssi_code == SI_TKILL, "thread-directed: SI_TKILL");

    /* a new mask on the same fd */
    sigset_t only_rt;
    sigemptyset(&only_rt);
    sigaddset(&only_rt, SIGRTMIN);
    CHECK(signalfd(sfd, &only_rt, 0) == sfd, "signalfd(sfd, {SIGRTMIN}) returns sfd");
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill SIGUSR1");
    CHECK(read(sfd, si, sizeof si) == -1 && errno == EAGAIN, "SIGUSR1 no longer in the mask");
    CHECK(signalfd(sfd, &mask, 0) == sfd, "back to the full mask");
    CHECK(read(sfd, si, sizeof si) == sizeof si[0] && si[0].ssi_signo == SIGUSR1, "SIGUSR1 read now");

    /* SIGKILL and SIGSTOP in the mask are ignored, not errors */
    sigset_t all;
    sigfillset(&all);
    int sfd_all = signalfd(-1, &all, SFD_NONBLOCK);
    CHECK(sfd_all >= 0, "a full mask is accepted");
    close(sfd_all);

    /* epoll */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out[2];
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) == 0, "epoll_ctl ADD a signalfd");
    CHECK(epoll_wait(ep, out, 2, 0) == 0, "epoll: nothing yet");

    /* SIGCHLD of an exiting child, waking epoll_wait */
    pid_t child = fork();
    if (child == 0)
        _exit(3);
    CHECK(epoll_wait(ep, out, 2, 5000) == 1 && out[0].data.u32 == 7, "epoll_wait woken by SIGCHLD");
    CHECK(read(sfd, si, sizeof si) == sizeof si[0], "read the SIGCHLD");
    CHECK(si[0].ssi_signo == SIGCHLD && si[0].ssi_code == CLD_EXITED, "SIGCHLD, CLD_EXITED");
    CHECK(si[0].ssi_pid == (uint32_t)child && si[0].ssi_status == 3, "ssi_pid the child, ssi_status 3");
    int status;
    CHECK(waitpid(child, &status, 0) == child && WEXITSTATUS(status) == 3, "reaped");

    child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    CHECK(kill(child, SIGTERM) == 0, "kill the second child");
    pfd.events = POLLIN;
    CHECK(poll(&pfd, 1, 5000) == 1, "poll woken by SIGCHLD");
    CHECK(read(sfd, si, sizeof si) == sizeof si[0] && si[0].ssi_code == CLD_KILLED && si[0].ssi_status == SIGTERM,
          "CLD_KILLED with ssi_status SIGTERM");
    CHECK(waitpid(child, &status, 0) == child && WTERMSIG(status) == SIGTERM, "reaped");

    /* a blocking read, woken by a signal another process sends */
    int blocking = signalfd(-1, &mask, 0);
    CHECK(blocking >= 0, "a blocking signalfd");
    pid_t parent = getpid();
    child = fork();
    if (child == 0) {
        usleep(20000);
        kill(parent, SIGUSR1);
        _exit(0);
    }
    CHECK(read(blocking, si, sizeof si[0]) == sizeof si[0] && si[0].ssi_signo == SIGUSR1 &&
              si[0].ssi_pid == (uint32_t)child,
          "a blocked read returns the child's SIGUSR1");
    CHECK(read(blocking, si, sizeof si[0]) == sizeof si[0] && si[0].ssi_signo == SIGCHLD, "then its SIGCHLD");
    waitpid(child, &status, 0);

    /* an unblocked signal in the mask is delivered, not read */
    struct sigaction sa = {.sa_handler = on_usr2};
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    int sfd2 = signalfd(-1, &usr2, SFD_NONBLOCK);
    CHECK(kill(getpid(), SIGUSR2) == 0 && handled == 1, "unblocked SIGUSR2 runs its handler");
    CHECK(read(sfd2, si, sizeof si) == -1 && errno == EAGAIN, "and the signalfd has nothing");

    /* a forked child reads its own signals through the inherited fd */
    child = fork();
    if (child == 0) {
        raise(SIGUSR1);
        int n = read(sfd, si, sizeof si);
        _exit(n == sizeof si[0] && si[0].ssi_pid == (uint32_t)getpid() ? 0 : 1);
    }
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child reads its own signal through the inherited fd");
    CHECK(read(sfd, si, sizeof si) == sizeof si[0] && si[0].ssi_signo == SIGCHLD, "the parent reads SIGCHLD");
    CHECK(read(sfd, si, sizeof si) == -1 && errno == EAGAIN, "nothing else");

    /* a container init's loop: a child subreaper hears of its grandchild through the signalfd */
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "PR_SET_CHILD_SUBREAPER");
    int is_reaper = 0;
    CHECK(prctl(PR_GET_CHILD_SUBREAPER, &is_reaper) == 0 && is_reaper == 1, "PR_GET_CHILD_SUBREAPER: 1");
    int gp[2];
    CHECK(pipe(gp) == 0, "pipe");
    child = fork();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            char c;
            close(gp[1]);
            read(gp[0], &c, 1); /* until the subreaper lets it go */
            _exit(5);
        }
        _exit(grandchild > 0 ? 0 : 1);
    }
    close(gp[0]);
    CHECK(read(blocking, si, sizeof si[0]) == sizeof si[0] && si[0].ssi_signo == SIGCHLD &&
              si[0].ssi_pid == (uint32_t)child,
          "SIGCHLD of the child");
    CHECK(waitpid(child, &status, 0) == child && WEXITSTATUS(status) == 0, "child reaped");
    CHECK(write(gp[1], "x", 1) == 1, "let the grandchild go");
    CHECK(read(blocking, si, sizeof si[0]) == sizeof si[0] && si[0].ssi_signo == SIGCHLD &&
              si[0].ssi_status == 5,
          "SIGCHLD of the orphaned grandchild, to the subreaper");
    pid_t orphan = si[0].ssi_pid;
    CHECK(waitpid(-1, &status, 0) == orphan && WEXITSTATUS(status) == 5, "the subreaper reaps it");
    child = fork();
    if (child == 0) {
        if (fork() == 0)
            _exit(6);
        usleep(50000); /* its child is a zombie when it dies */
        _exit(0);
    }
    int reaped = 0, got_six = 0;
    while (reaped < 2 && read(blocking, si, sizeof si[0]) == sizeof si[0]) { /* SIGCHLDs may merge */
        while (waitpid(-1, &status, WNOHANG) > 0) {
            reaped++;
            got_six |= WEXITSTATUS(status) == 6;
        }
    }
    CHECK(reaped == 2 && got_six, "a zombie grandchild is handed to the subreaper too");
    puts("done");
    return 0;
}
