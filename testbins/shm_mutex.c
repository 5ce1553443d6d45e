/* shm_mutex: MAP_SHARED|MAP_ANONYMOUS memory survives fork as shared memory, and a
 * PTHREAD_PROCESS_SHARED mutex in it serialises 4 processes x 10000 increments. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILDREN 3
#define INCREMENTS 10000

struct shared {
    pthread_mutex_t lock;
    long count;
    long unlocked_writes; /* written only by children, read by the parent */
};

static void work(struct shared *s)
{
    for (int i = 0; i < INCREMENTS; i++) {
        pthread_mutex_lock(&s->lock);
        long v = s->count;
        /* Widen the race window so a mutex that does not exclude is caught. */
        for (volatile int k = 0; k < 3; k++)
            ;
        s->count = v + 1;
        pthread_mutex_unlock(&s->lock);
    }
}

int main(void)
{
    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) {
        perror("FAIL mmap MAP_SHARED");
        return 1;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) != 0 || pthread_mutex_init(&s->lock, &attr) != 0) {
        fprintf(stderr, "FAIL process-shared mutex init\n");
        return 1;
    }

    pid_t pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        if (pids[c] < 0) {
            perror("FAIL fork");
            return 1;
        }
        if (pids[c] == 0) {
            __atomic_fetch_add(&s->unlocked_writes, 1, __ATOMIC_SEQ_CST);
            work(s);
            _exit(0);
        }
    }
    work(s);
    for (int c = 0; c < CHILDREN; c++) {
        int status;
        if (waitpid(pids[c], &status, 0) != pids[c] || status != 0) {
            fprintf(stderr, "FAIL child %d status 0x%x\n", c, status);
            return 1;
        }
    }
    if (s->unlocked_writes != CHILDREN) {
        fprintf(stderr, "FAIL children's writes not visible to the parent: %ld\n", s->unlocked_writes);
        return 1;
    }
    printf("ok children's writes to MAP_SHARED memory are visible to the parent\n");
    if (s->count != (CHILDREN + 1) * INCREMENTS) {
        fprintf(stderr, "FAIL count %ld, expected %d\n", s->count, (CHILDREN + 1) * INCREMENTS);
        return 1;
    }
    printf("ok %d processes x %d locked increments = %ld\n", CHILDREN + 1, INCREMENTS, s->count);
    return 0;
}
