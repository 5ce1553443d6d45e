/* smp_exit: ending a process whose other threads spin in pure CPU loops (no system
 * call ever brings them into the kernel): with threads running at once, exit_group and
 * execve must stop the other CPUs' threads in user code. Each case runs in a forked
 * child and the parent checks its status and that it ended within seconds:
 *  - the main thread calls exit(7) while 3 threads spin: status 7;
 *  - a non-main thread calls _exit(9) (exit_group) while the main thread and 2 others spin;
 *  - a non-main thread calls execve(/proc/self/exe, "exec-child") while the main thread
 *    and 2 others spin: the new image runs alone (one thread in /proc/self/task), prints
 *    and exits 0;
 *  - the main thread ends with SYS_exit (only itself) while 3 threads spin, and the last
 *    of them calls exit(11) after the others were told to stop: status 11. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define SPINNERS 3

static int started;
static volatile unsigned long sink[SPINNERS + 1];
static int stop_spinning;
static pthread_t main_thread;

static void *spin(void *arg)
{
    long id = (long)arg;
    __atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
    for (;;) /* no system call: only another CPU can stop this */
        sink[id]++;
    return NULL;
}

static void *spin_stoppable(void *arg)
{
    long id = (long)arg;
    __atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&stop_spinning, __ATOMIC_ACQUIRE))
        sink[id]++;
    return NULL;
}

static void wait_started(int n)
{
    while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < n)
        ;
}

static void start_spinners(int n, void *(*fn)(void *))
{
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, fn, (void *)i) != 0)
            _exit(100);
    }
}

static void *exit_group_from_thread(void *arg)
{
    (void)arg;
    wait_started(SPINNERS);
    _exit(9);
}

static void *exec_from_thread(void *arg)
{
    (void)arg;
    wait_started(SPINNERS);
    char *argv[] = {"smp_exit", "exec-child", NULL};
    execv("/proc/self/exe", argv);
    _exit(98);
}

static void *last_one_exits(void *arg)
{
    (void)arg;
    wait_started(SPINNERS);
    /* The kernel clears the main thread's tid (glibc's set_tid_address) when it leaves
     * with SYS_exit: the join returns then, and the process lives on. */
    pthread_join(main_thread, NULL);
    __atomic_store_n(&stop_spinning, 1, __ATOMIC_RELEASE);
    exit(11);
}

static int count_tasks(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static double elapsed(struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static void run_case(const char *what, int want, void (*child)(void))
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0)
        CHECK(0, "fork");
    if (pid == 0) {
        child();
        _exit(99);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid)
        CHECK(0, "waitpid");
    char line[200];
    snprintf(line, sizeof line, "%s: status %d", what, want);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == want))
        fprintf(stderr, "%s: raw wait status 0x%x\n", what, status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == want, line);
    snprintf(line, sizeof line, "%s: within 10 s", what);
    CHECK(elapsed(&t0) < 10.0, line);
}

static void main_exits(void)
{
    start_spinners(SPINNERS, spin);
    wait_started(SPINNERS);
    exit(7);
}

static void thread_exits(void)
{
    pthread_t t;
    start_spinners(SPINNERS - 1, spin);
    pthread_create(&t, NULL, exit_group_from_thread, NULL);
    __atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
    for (;;)
        sink[SPINNERS]++;
}

static void thread_execs(void)
{
    pthread_t t;
    start_spinners(SPINNERS - 1, spin);
    pthread_create(&t, NULL, exec_from_thread, NULL);
    __atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
    for (;;)
        sink[SPINNERS]++;
}

static void main_thread_leaves(void)
{
    pthread_t t;
    main_thread = pthread_self();
    start_spinners(SPINNERS - 1, spin_stoppable);
    pthread_create(&t, NULL, last_one_exits, NULL);
    __atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
    wait_started(SPINNERS);
    syscall(SYS_exit, 0);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "exec-child") == 0) {
        CHECK(count_tasks() == 1, "exec'd image: one thread in /proc/self/task");
        printf("exec'd image: runs alone\n");
        return 0;
    }
    run_case("main calls exit(7) while 3 threads spin", 7, main_exits);
    run_case("a thread calls _exit(9) while main and 2 threads spin", 9, thread_exits);
    run_case("a thread calls execve while main and 2 threads spin", 0, thread_execs);
    run_case("main leaves with SYS_exit, the last thread calls exit(11)", 11, main_thread_leaves);
    printf("smp_exit: ok\n");
    return 0;
}
