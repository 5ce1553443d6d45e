/* What the first process of a command may do with its process group and session, as a
 * shell leaves them: it is not a session leader, so setpgid(0, 0) works; kill(1, 0)
 * finds init (root may signal it; anyone else gets EPERM); a child may setsid(). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *result(int r) { return r == 0 ? "ok" : strerrorname_np(errno); }

int main(void) {
    printf("session leader: %s\n", getsid(0) == getpid() ? "yes" : "no");
    printf("setpgid(0, 0): %s\n", result(setpgid(0, 0)));
    printf("now a group leader: %s\n", getpgrp() == getpid() ? "yes" : "no");
    int r = kill(1, 0);
    printf("kill(1, 0): %s\n", geteuid() == 0 ? result(r) : (r == 0 || errno == EPERM) ? "ok or EPERM" : "bad");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pid_t sid = setsid();
        printf("child setsid: %s, leads its session: %s\n", sid > 0 ? "ok" : strerrorname_np(errno),
               getsid(0) == getpid() ? "yes" : "no");
        printf("child setpgid(0, 0) as session leader: %s\n", result(setpgid(0, 0)));
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    return WEXITSTATUS(status);
}
