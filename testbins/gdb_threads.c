/* Threads for the gdb stub's tests (tests/test_gdb.py): the second thread stops in
   worker_body, where a breakpoint waits for it, while main waits in pthread_join. */
#include <pthread.h>
#include <stdio.h>

volatile int worker_done;

__attribute__((noinline)) void worker_body(int n)
{
    worker_done = n;
}

static void *worker(void *arg)
{
    worker_body((int)(long)arg);
    return NULL;
}

int main(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, (void *)7L) != 0)
        return 1;
    pthread_join(thread, NULL);
    printf("worker_done %d\n", worker_done);
    return worker_done == 7 ? 0 : 1;
}
