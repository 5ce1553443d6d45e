/* waitstatus: wait status encodings and the wait family. Exit codes 0/1/255, death by
 * SIGKILL/SIGTERM, WNOHANG, waitpid(-1), waitpid(0), waitpid(-pgid), ECHILD, waitid
 * (P_PID, P_ALL) siginfo, wait4 with an rusage pointer. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static pid_t child_exiting(int code)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("FAIL fork");
        exit(1);
    }
    if (pid == 0)
        _exit(code);
    return pid;
}

static pid_t child_killed_by(int sig)
{
    pid_t pid = fork();
    if (pid == 0) {
        kill(getpid(), sig);
        _exit(99); /* not reached */
    }
    return pid;
}

static void exit_codes(void)
{
    int status;
    pid_t pid = child_exiting(0);
    CHECK(waitpid(pid, &status, 0) == pid && status == 0, "exit 0 -> status 0x0000");
    pid = child_exiting(1);
    CHECK(waitpid(pid, &status, 0) == pid && status == 0x100 && WIFEXITED(status) && WEXITSTATUS(status) == 1,
          "exit 1 -> status 0x0100, WEXITSTATUS 1");
    pid = child_exiting(255);
    CHECK(waitpid(pid, &status, 0) == pid && status == 0xff00 && WEXITSTATUS(status) == 255,
          "exit 255 -> status 0xff00, WEXITSTATUS 255");
    pid = child_exiting(256 + 42);
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 42, "exit 298 -> WEXITSTATUS 42 (low 8 bits)");
}

static void signals(void)
{
    int status;
    pid_t pid = child_killed_by(SIGKILL);
    CHECK(waitpid(pid, &status, 0) == pid && status == SIGKILL, "SIGKILL -> status 0x0009");
    CHECK(WIFSIGNALED(status) && !WIFEXITED(status) && WTERMSIG(status) == SIGKILL && !WCOREDUMP(status),
          "WIFSIGNALED, WTERMSIG SIGKILL, no core");
    pid = child_killed_by(SIGTERM);
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
          "SIGTERM -> WIFSIGNALED, WTERMSIG SIGTERM");
}

static void wnohang(void)
{
    int fds[2];
    pipe(fds);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(fds[1]);
        read(fds[0], &c, 1); /* blocks until the parent closes its end */
        _exit(5);
    }
    close(fds[0]);
    int status = -1;
    CHECK(waitpid(pid, &status, WNOHANG) == 0, "WNOHANG returns 0 while the child runs");
    close(fds[1]);
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 5, "then waitpid reaps it");
}

static void wait_any(void)
{
    int status;
    pid_t pid = child_exiting(11);
    CHECK(waitpid(-1, &status, 0) == pid && WEXITSTATUS(status) == 11, "waitpid(-1) reaps any child");
    pid = child_exiting(12);
    CHECK(wait(&status) == pid && WEXITSTATUS(status) == 12, "wait reaps any child");
    pid = child_exiting(13);
    CHECK(waitpid(0, &status, 0) == pid && WEXITSTATUS(status) == 13, "waitpid(0) reaps a child in our group");

    /* A child in its own process group: set from both sides so neither order races. */
    int fds[2];
    pipe(fds);
    pid = fork();
    if (pid == 0) {
        char c;
        setpgid(0, 0);
        close(fds[1]);
        read(fds[0], &c, 1);
        _exit(14);
    }
    close(fds[0]);
    setpgid(pid, pid);
    CHECK(getpgid(pid) == pid, "child moved to its own process group");
    errno = 0;
    CHECK(waitpid(0, &status, WNOHANG) == -1 && errno == ECHILD,
          "waitpid(0) -> ECHILD when the only child is in another group");
    close(fds[1]);
    CHECK(waitpid(-pid, &status, 0) == pid && WEXITSTATUS(status) == 14, "waitpid(-pgid) reaps it");
    errno = 0;
    CHECK(waitpid(-1, &status, 0) == -1 && errno == ECHILD, "no children left -> ECHILD");
    errno = 0;
    CHECK(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD, "WNOHANG with no children -> ECHILD");
}

static void wait_id(void)
{
    siginfo_t si;
    pid_t pid = child_exiting(21);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_PID, pid, &si, WEXITED) == 0, "waitid(P_PID, WEXITED)");
    CHECK(si.si_pid == pid && si.si_signo == SIGCHLD && si.si_code == CLD_EXITED && si.si_status == 21,
          "siginfo: si_pid, SIGCHLD, CLD_EXITED, si_status 21");
    CHECK(si.si_uid == getuid(), "siginfo: si_uid");

    pid = child_killed_by(SIGKILL);
    memset(&si, 0, sizeof si);
    CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0, "waitid(P_ALL, WEXITED)");
    CHECK(si.si_pid == pid && si.si_code == CLD_KILLED && si.si_status == SIGKILL,
          "siginfo: CLD_KILLED, si_status SIGKILL");

    int fds[2];
    pipe(fds);
    pid = fork();
    if (pid == 0) {
        char c;
        close(fds[1]);
        read(fds[0], &c, 1);
        _exit(22);
    }
    close(fds[0]);
    memset(&si, 0xff, sizeof si);
    CHECK(waitid(P_PID, pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0,
          "waitid WNOHANG with a running child: 0 and si_pid 0");
    close(fds[1]);
    CHECK(waitid(P_PID, pid, &si, WEXITED) == 0 && si.si_status == 22, "waitid then reaps it");
    errno = 0;
    CHECK(waitid(P_ALL, 0, &si, WEXITED) == -1 && errno == ECHILD, "waitid with no children -> ECHILD");
    errno = 0;
    CHECK(waitid(P_ALL, 0, &si, 0) == -1 && errno == EINVAL, "waitid without WEXITED etc. -> EINVAL");
}

static void wait_4(void)
{
    struct rusage ru;
    int status;
    pid_t pid = child_exiting(31);
    memset(&ru, 0xff, sizeof ru);
    CHECK(wait4(pid, &status, 0, &ru) == pid && WEXITSTATUS(status) == 31, "wait4 with an rusage pointer");
    CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec >= 0 &&
              ru.ru_stime.tv_usec < 1000000,
          "rusage times filled in");
    pid = child_exiting(32);
    CHECK(wait4(pid, NULL, 0, NULL) == pid, "wait4 with NULL status and rusage");
}

int main(void)
{
    errno = 0;
    CHECK(wait(NULL) == -1 && errno == ECHILD, "wait with no children -> ECHILD");
    exit_codes();
    signals();
    wnohang();
    wait_any();
    wait_id();
    wait_4();
    return 0;
}
