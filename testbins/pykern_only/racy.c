/* racy: a data race on purpose, the demo of `pykern explore` (README, "Determinism and
 * schedule exploration"). Racy natively too, so it is not compared with a native run.
 *
 * Two threads add 1 to a shared counter ITERATIONS times each, without atomics: load,
 * then a branch (which ends QEMU's translation block), then store. pykern preempts only
 * at block boundaries, once a quantum of instructions is spent; a quantum that ends
 * between the load and the store lets the other thread run its whole quantum, and the
 * store then undoes every increment it made (a lost update). The window is two short
 * blocks in a loop of about forty instructions, so only some schedules hit it: under
 * `--deterministic`, which ones depends on the seed.
 *
 * Meanwhile a forked child sleeps three times 1 s and writes a line to a pipe after each;
 * the parent prints them once the threads are done, then the counter. The child also
 * says how many whole seconds of CLOCK_MONOTONIC it saw pass (3, natively and under
 * pykern's virtual clock).
 *
 * Exit status: 0 when the counter is right, 1 when updates were lost, 2 on an error. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 2
#define ITERATIONS 100000L
#define WORK 12 /* the loop's other blocks: the larger, the rarer a preemption in the window */
#define TICKS 3

static long counter;

static void racy_increment(long *where)
{
    long seen;
    __asm__ volatile("mov (%1), %0\n\t"  /* load */
                     "test %0, %0\n\t"
                     "js 1f\n"           /* never taken; ends the block: a preemption may come here */
                     "1:\tinc %0\n\t"
                     "mov %0, (%1)\n\t"  /* store */
                     "jmp 2f\n"          /* ends the store's block, keeping the window short */
                     "2:"
                     : "=&r"(seen) : "r"(where) : "memory", "cc");
}

static void *adder(void *unused)
{
    (void)unused;
    for (long i = 0; i < ITERATIONS; i++) {
        for (int j = 0; j < WORK; j++)
            __asm__ volatile("");
        racy_increment(&counter);
    }
    return NULL;
}

static double monotonic(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

static void child(int out)
{
    double start = monotonic();
    char line[64];
    for (int tick = 1; tick <= TICKS; tick++) {
        sleep(1);
        int n = snprintf(line, sizeof line, "child: tick %d\n", tick);
        if (write(out, line, n) != n)
            _exit(2);
    }
    int n = snprintf(line, sizeof line, "child: %d s passed\n", (int)(monotonic() - start));
    _exit(write(out, line, n) == n ? 0 : 2);
}

int main(void)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        close(fds[0]);
        child(fds[1]);
    }
    close(fds[1]);

    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, adder, NULL) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);

    char buffer[256];
    ssize_t got;
    while ((got = read(fds[0], buffer, sizeof buffer)) > 0)
        fwrite(buffer, 1, got, stdout);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the child failed\n");
        return 2;
    }
    long expected = THREADS * ITERATIONS;
    if (counter == expected) {
        printf("counter: %ld of %ld\n", counter, expected);
        return 0;
    }
    printf("counter: %ld of %ld, %ld updates lost\n", counter, expected, expected - counter);
    return 1;
}
