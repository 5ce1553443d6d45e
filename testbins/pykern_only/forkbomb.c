#define _GNU_SOURCE
/* A fork bomb, contained: fork children that only wait, until fork fails. Prints how
 * many forks succeeded and the errno of the one that failed, then kills and reaps the
 * children and exits 0. Run natively it would fork until the host's limits (do not);
 * under `pykern run --max-tasks N` it stops at N - 1 children with EAGAIN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../waiters.h"

int main(int argc, char **argv) {
    long bound = argc > 1 ? atol(argv[1]) : 100000;
    int error;
    long forks = fork_waiters(bound, &error);
    printf("forks: %ld, then %s\n", forks, error ? strerrorname_np(error) : (const char *)"none");
    fflush(stdout);
    kill_waiters();
    printf("reaped: %ld\n", forks);
    return 0;
}
