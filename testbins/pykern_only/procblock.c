/* procblock: a process that sets up state /proc shows (a name, a blocked and an ignored
 * signal, a handler, an anonymous mapping, a pipe, a second thread, a child) and then
 * waits forever on pipes nobody writes. tests/test_procfs.py runs it in a Kernel until
 * every task sleeps (pykern's deadlock) and reads its /proc from Python. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static int thread_pipe[2];

static void on_usr2(int sig) { (void)sig; }

static void *waiter(void *arg)
{
    char c;
    (void)arg;
    prctl(PR_SET_NAME, "procblock-t");
    read(thread_pipe[0], &c, 1);
    return NULL;
}

int main(void)
{
    int fds[2];
    char c;
    sigset_t set;
    pthread_t thread;
    char *area;

    prctl(PR_SET_NAME, "procblock");
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGUSR2, on_usr2);
    area = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED)
        return 1;
    strcpy(area, "touched");
    if (pipe(fds) || pipe(thread_pipe))
        return 2;
    pthread_create(&thread, NULL, waiter, NULL);
    if (fork() == 0) {
        prctl(PR_SET_NAME, "procblock-c");
        read(fds[0], &c, 1);
        _exit(0);
    }
    read(fds[0], &c, 1);
    return 0;
}
