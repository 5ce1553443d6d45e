/* sessions: setsid, setpgid, getpgid, getsid, getpgrp and their errors as Linux gives
 * them. The top process changes nothing about itself; children do. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void reap(pid_t pid, const char *what)
{
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && status == 0, what);
}

static void new_session(void)
{
    int ready[2], done[2];
    pipe(ready);
    pipe(done);
    pid_t parent_sid = getsid(0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(ready[0]);
        close(done[1]);
        pid_t me = getpid();
        CHECK(setsid() == me, "setsid in a child returns the child's pid");
        CHECK(getsid(0) == me && getsid(me) == me, "getsid == getpid");
        CHECK(getpgrp() == me && getpgid(0) == me, "getpgrp == getpid");
        CHECK(getsid(0) != parent_sid, "the new session differs from the parent's");
        errno = 0;
        CHECK(setsid() == -1 && errno == EPERM, "setsid again -> EPERM (already a group leader)");
        errno = 0;
        CHECK(setpgid(0, 0) == -1 && errno == EPERM, "setpgid on a session leader -> EPERM");
        write(ready[1], "r", 1);
        read(done[0], &c, 1);
        _exit(0);
    }
    char c;
    close(ready[1]);
    close(done[0]);
    CHECK(read(ready[0], &c, 1) == 1, "child set up its session");
    CHECK(getsid(pid) == pid && getpgid(pid) == pid, "parent sees the child's session and group");
    CHECK(getsid(0) == parent_sid, "parent's session unchanged");
    errno = 0;
    CHECK(setpgid(pid, getpgrp()) == -1 && errno == EPERM, "setpgid of a child in another session -> EPERM");
    close(done[1]);
    reap(pid, "session child exited 0");
    close(ready[0]);
}

static void new_group(void)
{
    pid_t parent_pgrp = getpgrp(), parent_sid = getsid(0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        pid_t me = getpid();
        CHECK(getpgrp() == parent_pgrp, "a child starts in its parent's group");
        CHECK(setpgid(0, 0) == 0, "setpgid(0, 0)");
        CHECK(getpgrp() == me && getpgid(0) == me && getpgid(me) == me, "getpgid == getpid");
        CHECK(getsid(0) == parent_sid, "the session is unchanged");
        CHECK(setpgid(0, parent_pgrp) == 0 && getpgrp() == parent_pgrp,
              "setpgid back into the parent's group in the same session");
        _exit(0);
    }
    reap(pid, "group child exited 0");
}

static void errors(void)
{
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    reap(dead, "a child exited and was reaped; its pid is now unused");
    errno = 0;
    CHECK(setpgid(dead, 0) == -1 && errno == ESRCH, "setpgid of an unused pid -> ESRCH");
    errno = 0;
    CHECK(setpgid(0, dead) == -1 && errno == EPERM, "setpgid into a group that does not exist -> EPERM");
    errno = 0;
    CHECK(setpgid(0, -1) == -1 && errno == EINVAL, "setpgid with a negative pgid -> EINVAL");
    errno = 0;
    CHECK(getpgid(dead) == -1 && errno == ESRCH, "getpgid of an unused pid -> ESRCH");
    errno = 0;
    CHECK(getsid(dead) == -1 && errno == ESRCH, "getsid of an unused pid -> ESRCH");
}

int main(void)
{
    new_session();
    new_group();
    errors();
    return 0;
}
