/* Children that only wait: forked one by one until fork fails (or a bound is reached),
 * then killed with SIGKILL and reaped. For the testbins that fill a process limit
 * (rlimit_nproc, pykern_only/forkbomb). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t waiters[100000];
static long nwaiters;

/* Fork waiting children until fork fails (its errno in *error) or `bound` succeeded;
 * returns how many did. */
static long fork_waiters(long bound, int *error) {
    long forks = 0;
    *error = 0;
    while (forks < bound && nwaiters < (long)(sizeof waiters / sizeof waiters[0])) {
        pid_t pid = fork();
        if (pid == 0) {
            pause();
            _exit(0);
        }
        if (pid < 0) {
            *error = errno;
            break;
        }
        waiters[nwaiters++] = pid;
        forks++;
    }
    return forks;
}

/* Kill and reap every waiting child; says so if some could not be reaped. */
static void kill_waiters(void) {
    for (long i = 0; i < nwaiters; i++)
        kill(waiters[i], SIGKILL);
    long reaped = 0;
    while (wait(NULL) > 0)
        reaped++;
    if (reaped != nwaiters)
        printf("reaped %ld of %ld\n", reaped, nwaiters);
    nwaiters = 0;
}
