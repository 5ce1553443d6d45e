#define _GNU_SOURCE
/* RLIMIT_NPROC: a non-root user (nobody) with a limit of 4 processes can fork only until
 * its processes number 4; the next fork fails with EAGAIN. Root is exempt. Children
 * wait in pause() and are killed at the end (waiters.h). */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "waiters.h"

#define NOBODY 65534

int main(void) {
    struct rlimit limit = {4, 4};
    if (setrlimit(RLIMIT_NPROC, &limit) != 0) {
        perror("setrlimit");
        return 1;
    }
    int error;
    if (geteuid() == 0) {
        /* root is exempt: 6 forks past a limit of 4 */
        long forks = fork_waiters(6, &error);
        printf("root: %ld forks, error %s\n", forks, error ? strerrorname_np(error) : (const char *)"none");
        kill_waiters();
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
            perror("setuid");
            return 1;
        }
    }
    long forks = fork_waiters(10, &error);
    /* the user's other processes (this one at least) count too: at most 3 forks */
    printf("user: %s after at most 3 forks: %s\n", error ? strerrorname_np(error) : (const char *)"no error",
           forks <= 3 ? "yes" : "no");
    kill_waiters();
    return 0;
}
