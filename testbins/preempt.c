/* preempt: parent and child busy-wait on each other through MAP_SHARED flags without
 * making system calls. The child waits for flag A, the parent for flag B; each sets its
 * own flag only after some work. Only a preemptive scheduler lets both finish. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORK 200000

struct flags {
    volatile int a; /* set by the parent */
    volatile int b; /* set by the child */
};

static long busy_work(void)
{
    volatile long counter = 0;
    for (long i = 0; i < WORK; i++)
        counter += i & 7;
    return counter;
}

int main(void)
{
    struct flags *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (f == MAP_FAILED) {
        perror("FAIL mmap");
        return 1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        busy_work();
        f->b = 1;
        while (!f->a)
            ;
        _exit(0);
    }
    busy_work();
    /* Wait for the child before publishing A: it must have run while we spin. */
    while (!f->b)
        ;
    f->a = 1;
    int status;
    if (waitpid(pid, &status, 0) != pid || status != 0) {
        fprintf(stderr, "FAIL child status 0x%x\n", status);
        return 1;
    }
    printf("ok parent and child both ran while the other spun\n");
    return 0;
}
