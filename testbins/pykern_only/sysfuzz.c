/* sysfuzz: every syscall number, with arguments from a fixed set of awkward values
 * (0, -1, small and huge numbers, NULL, unmapped, kernel-half and misaligned pointers, a
 * pointer to a harmless relative path), each in a child process that a 50 ms timer
 * ends if the call blocks. pykern must answer every call with a result or an errno (or
 * a signal, as Linux would): never a Python traceback. Not run natively: on the host,
 * as root, random syscalls are not safe. Dangerous-to-pykern-itself calls are not
 * special-cased; the ones that would create processes endlessly are skipped.
 * argv[1]: the working directory to run in (a temporary one); argv[2], optional: a
 * seed for other mixes of the values, some with random bits (for hunting by hand). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char path_buf[64] = "fuzz-file";
static char scratch[8192] __attribute__((aligned(64)));

static long values(int i)
{
    static const long fixed[] = {
        0, -1, 1, 2, 3, 0x7fffffff, -0x80000000L, 4096,
    };
    switch (i) {
    case 8: return 8;                               /* unmapped, near NULL */
    case 9: return (long)0xffff800000000000UL;       /* kernel half */
    case 10: return (long)(scratch + 1);             /* valid, misaligned */
    case 11: return (long)path_buf;                  /* "fuzz-file" */
    case 12: return (long)(scratch + sizeof scratch - 2); /* runs off the end of a mapping? */
    default: return fixed[i % 8];
    }
}

static int skipped(long nr)
{
    switch (nr) {
    case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:
        return 1; /* process explosions */
    default:
        return 0;
    }
}

/* Wait for the child (SIGCHLD is blocked in the fuzzer, so it queues); one stuck in a
 * sleep its timer cannot end is killed after 2 s. */
static int reap(pid_t pid)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int status;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            return status;
        if (done < 0) {
            perror("waitpid");
            exit(1);
        }
        struct timespec limit = {2, 0};
        if (sigtimedwait(&chld, NULL, &limit) < 0 && errno == EAGAIN) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return status;
        }
    }
}

int main(int argc, char **argv)
{
    unsigned long long seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0;
    if (argc > 1 && chdir(argv[1]) != 0) {
        perror("chdir");
        return 1;
    }
    /* A child's kill(-1, sig) or kill(0, sig) must not end the fuzzer: ignore what can be
     * (SIGCHLD stays default, or children would reap themselves). */
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_IGN);
    sigset_t chld, none;
    sigemptyset(&chld);
    sigemptyset(&none);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int calls = 0, signalled = 0, stuck = 0;
    for (long nr = 0; nr < 460; nr++) {
        if (skipped(nr))
            continue;
        for (int round = 0; round < 13; round++) {
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                setpgid(0, 0);
                sigprocmask(SIG_SETMASK, &none, NULL);
                FILE *devnull = fopen("/dev/null", "r+");
                if (devnull) {
                    dup2(fileno(devnull), 0);
                    dup2(fileno(devnull), 1);
                    dup2(fileno(devnull), 2);
                }
                signal(SIGALRM, SIG_DFL);
                struct itimerval it = {{0, 0}, {0, 50000}};
                setitimer(ITIMER_REAL, &it, NULL);
                memset(scratch, round * 17, sizeof scratch);
                long a[6];
                if (seed)
                    seed ^= (unsigned long long)(nr * 131 + round) * 0x9E3779B97F4A7C15ULL;
                for (int k = 0; k < 6; k++) {
                    a[k] = values((round + k * 5) % 13);
                    if (seed) { /* argv[2]: other mixes, some with random bits */
                        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                        a[k] = (seed >> 60) < 3 ? (long)(seed >> 1) : values((int)((seed >> 33) % 13));
                    }
                }
                syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
                _exit(0);
            }
            int status = reap(pid);
            calls++;
            signalled += WIFSIGNALED(status);
            stuck += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        }
    }
    printf("sysfuzz: %d calls made, %d children ended by a signal (%d stuck and killed)\n", calls, signalled,
           stuck);
    return 0;
}
