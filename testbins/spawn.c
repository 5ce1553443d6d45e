/* spawn: vfork + _exit, vfork + execve, posix_spawn of ./testbins/hello, and
 * posix_spawn of a missing program, which glibc (clone(CLONE_VM|CLONE_VFORK)) reports
 * as ENOENT from posix_spawn itself. Run from the repo root. */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

static int marker = 1;

int main(void)
{
    int status;
    fflush(stdout);
    pid_t pid = vfork();
    if (pid == 0)
        _exit(5);
    CHECK(pid > 0, "vfork");
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 5,
          "vfork child _exit(5) -> WEXITSTATUS 5");
    CHECK(marker == 1, "parent memory intact after the vfork child");

    char *argv[] = {"./testbins/hello", NULL};
    fflush(stdout);
    pid = vfork();
    if (pid == 0) {
        execve(argv[0], argv, environ);
        _exit(127);
    }
    CHECK(waitpid(pid, &status, 0) == pid && status == 0, "vfork + execve ./testbins/hello exited 0");

    pid = -1;
    fflush(stdout);
    int rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
    int reaped = rc == 0 && waitpid(pid, &status, 0) == pid;
    CHECK(rc == 0 && pid > 0, "posix_spawn ./testbins/hello");
    CHECK(reaped && status == 0, "spawned hello exited 0");

    char *missing[] = {"./testbins/does-not-exist", NULL};
    rc = posix_spawn(&pid, missing[0], NULL, NULL, missing, environ);
    CHECK(rc == ENOENT, "posix_spawn of a missing program returns ENOENT");
    errno = 0;
    CHECK(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD, "no child left behind");
    return 0;
}
