/* wakeups: the wake-ups a --timeline shows as flow arrows, each one certain to happen
 * (the sleeper blocks first): a pipe reader woken by a child's write, a child's exit
 * waking the parent's waitpid, a condition variable's futex wake, pthread_join woken by
 * the thread's exit (CLONE_CHILD_CLEARTID), and nanosleep ended by its timer. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready;

static void pause_ms(long ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void *signaller(void *arg) {
    (void)arg;
    pause_ms(5);
    pthread_mutex_lock(&lock);
    ready = 1;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&lock);
    pause_ms(5);
    return NULL;
}

int main(void) {
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        pause_ms(10);
        write(fds[1], "x", 1);
        pause_ms(10);
        _exit(7);
    }
    CHECK(child > 0, "fork");
    close(fds[1]);
    char byte = 0;
    CHECK(read(fds[0], &byte, 1) == 1 && byte == 'x', "read woken by the child's write");
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child, "waitpid woken by the child's exit");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "exit status 7");

    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, signaller, NULL) == 0, "pthread_create");
    pthread_mutex_lock(&lock);
    while (!ready)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    CHECK(ready == 1, "condition variable woken by a futex wake");
    CHECK(pthread_join(thread, NULL) == 0, "pthread_join woken by the thread's exit");
    return 0;
}
