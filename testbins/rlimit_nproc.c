#define _GNU_SOURCE
/* RLIMIT_NPROC: a non-root user (nobody) with a limit of 4 processes can fork only until
 * its processes number 4; the next fork fails with EAGAIN. Root is exempt. Children
 * wait in pause() and are killed at the end. When not run as root (no setuid), checks
 * only that root's exemption question does not arise and says so. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t children[100000];
static long nchildren;

static void kill_children(void) {
    for (long i = 0; i < nchildren; i++)
        kill(children[i], SIGKILL);
    while (wait(NULL) > 0) {
    }
    nchildren = 0;
}

#define NOBODY 65534

static int fork_until_failure(int bound, int *error) {
    int forks = 0;
    *error = 0;
    while (forks < bound) {
        pid_t pid = fork();
        if (pid == 0) {
            pause();
            _exit(0);
        }
        if (pid < 0) {
            *error = errno;
            break;
        }
        children[nchildren++] = pid;
        forks++;
    }
    return forks;
}

int main(void) {
    struct rlimit limit = {4, 4};
    if (setrlimit(RLIMIT_NPROC, &limit) != 0) {
        perror("setrlimit");
        return 1;
    }
    if (geteuid() == 0) {
        /* root is exempt: 6 forks past a limit of 4 */
        int error;
        int forks = fork_until_failure(6, &error);
        printf("root: %d forks, error %s\n", forks, error ? strerrorname_np(error) : (const char *)"none");
        kill_children();
        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
            perror("setuid");
            return 1;
        }
    }
    int error;
    int forks = fork_until_failure(10, &error);
    /* the user's other processes (this one at least) count too: at most 3 forks */
    printf("user: %s after at most 3 forks: %s\n", error ? strerrorname_np(error) : (const char *)"no error",
           forks <= 3 ? "yes" : "no");
    kill_children();
    return 0;
}
