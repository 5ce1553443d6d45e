#define _GNU_SOURCE
/* A fork bomb, contained: fork children that only wait, until fork fails. Prints how
 * many forks succeeded and the errno of the one that failed, then kills and reaps the
 * children and exits 0. Run natively it would fork until the host's limits (do not);
 * under `pykern run --max-tasks N` it stops at N - 1 children with EAGAIN. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t children[100000];
static long nchildren;

static void kill_children(void) {
    for (long i = 0; i < nchildren; i++)
        kill(children[i], SIGKILL);
    long reaped = 0;
    while (wait(NULL) > 0)
        reaped++;
    if (reaped != nchildren)
        printf("reaped %ld of %ld\n", reaped, nchildren);
    nchildren = 0;
}

int main(int argc, char **argv) {
    long limit = argc > 1 ? atol(argv[1]) : 100000;  /* a bound, in case */
    long forks = 0;
    int error = 0;
    while (forks < limit) {
        pid_t pid = fork();
        if (pid == 0) {
            pause();
            _exit(0);
        }
        if (pid < 0) {
            error = errno;
            break;
        }
        children[nchildren++] = pid;
        forks++;
    }
    printf("forks: %ld, then %s\n", forks, error ? strerrorname_np(error) : (const char *)"none");
    fflush(stdout);
    long reaped = nchildren;
    kill_children();
    printf("reaped: %ld\n", reaped);
    return 0;
}
