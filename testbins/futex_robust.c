/* futex_robust: robust futex lists (set_robust_list, get_robust_list, exit_robust_list).
 * A thread and a forked process die holding robust mutexes: the next locker gets
 * EOWNERDEAD (also one already waiting), pthread_mutex_consistent makes the mutex usable
 * again, and unlocking without it leaves the mutex ENOTRECOVERABLE. A hand-built robust
 * list shows the kernel's side: FUTEX_OWNER_DIED with FUTEX_WAITERS kept, the
 * list_op_pending entry, locks of other threads left alone, a bad list ignored. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static pthread_mutex_t thread_lock;

static void make_robust(pthread_mutex_t *m, int pshared)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (pshared)
        pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void *die_holding(void *arg)
{
    pthread_mutex_lock(arg);
    return NULL; /* the thread ends with the mutex locked */
}

struct waiter_arg {
    pthread_mutex_t *m;
    int result;
};

static void *wait_for_lock(void *p)
{
    struct waiter_arg *w = p;
    w->result = pthread_mutex_lock(w->m);
    if (w->result == EOWNERDEAD) {
        pthread_mutex_consistent(w->m);
        pthread_mutex_unlock(w->m);
    }
    return NULL;
}

static void *hold_then_die(void *arg)
{
    pthread_mutex_lock(arg);
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL); /* the waiter blocks meanwhile */
    return NULL;
}

/* The kernel's view, with a list of our own (what glibc keeps in struct pthread). */
struct lock {
    struct lock *next;
    uint32_t word;
};
struct robust_head {
    void *next;
    long futex_offset;
    void *list_op_pending;
};

static struct robust_head raw_head;
static struct lock raw_a, raw_b, raw_c, raw_pending;
static pid_t raw_tid;

static void *raw_list_thread(void *arg)
{
    (void)arg;
    pid_t tid = syscall(SYS_gettid);
    raw_tid = tid;
    raw_a.word = tid;                  /* held */
    raw_b.word = tid | FUTEX_WAITERS;  /* held, with waiters */
    raw_c.word = 12345;                /* someone else's: left alone */
    raw_pending.word = tid;            /* being locked: list_op_pending */
    raw_head.next = &raw_a;
    raw_a.next = &raw_b;
    raw_b.next = &raw_c;
    raw_c.next = (struct lock *)&raw_head;
    raw_head.futex_offset = offsetof(struct lock, word);
    raw_head.list_op_pending = &raw_pending;
    syscall(SYS_set_robust_list, &raw_head, sizeof raw_head);
    return NULL;
}

static void *bad_list_thread(void *arg)
{
    static struct robust_head bad;
    bad.next = (void *)0x10; /* unmapped */
    bad.futex_offset = 0;
    bad.list_op_pending = NULL;
    *(uint32_t *)arg = syscall(SYS_gettid);
    syscall(SYS_set_robust_list, &bad, sizeof bad);
    return NULL;
}

int main(void)
{
    /* First of all, before any futex call: a child dies holding a shared robust mutex it
     * took without contention (the kernel never saw it until the child's exit). */
    pthread_mutex_t *first = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    make_robust(first, 1);
    if (fork() == 0) {
        pthread_mutex_lock(first);
        _exit(0);
    }
    wait(NULL);
    CHECK(pthread_mutex_lock(first) == EOWNERDEAD, "a child's uncontended robust lock: EOWNERDEAD");

    /* set_robust_list / get_robust_list */
    struct robust_head *head = NULL;
    size_t len = 0;
    CHECK(syscall(SYS_get_robust_list, 0, &head, &len) == 0 && head != NULL && len == sizeof(struct robust_head),
          "get_robust_list(0) gives glibc's list head and its size");
    struct robust_head *glibc_head = head;
    CHECK(syscall(SYS_get_robust_list, getpid(), &head, &len) == 0 && head == glibc_head,
          "get_robust_list(own tid) is the same");
    CHECK(syscall(SYS_set_robust_list, glibc_head, 23) == -1 && errno == EINVAL,
          "set_robust_list with a wrong length is EINVAL");
    CHECK(syscall(SYS_get_robust_list, 0x3ffffff0, &head, &len) == -1 && errno == ESRCH,
          "get_robust_list of a missing pid is ESRCH");
    CHECK(syscall(SYS_get_robust_list, 0, NULL, &len) == -1 && errno == EFAULT,
          "get_robust_list to a bad pointer is EFAULT");

    /* A thread dies holding a robust mutex. */
    make_robust(&thread_lock, 0);
    pthread_t t;
    pthread_create(&t, NULL, die_holding, &thread_lock);
    pthread_join(t, NULL);
    CHECK(pthread_mutex_lock(&thread_lock) == EOWNERDEAD, "lock after the owner thread died: EOWNERDEAD");
    CHECK(pthread_mutex_consistent(&thread_lock) == 0, "pthread_mutex_consistent");
    CHECK(pthread_mutex_unlock(&thread_lock) == 0, "unlock");
    CHECK(pthread_mutex_lock(&thread_lock) == 0, "lock again: 0");
    pthread_mutex_unlock(&thread_lock);

    /* Not made consistent: ENOTRECOVERABLE for ever after. */
    pthread_create(&t, NULL, die_holding, &thread_lock);
    pthread_join(t, NULL);
    CHECK(pthread_mutex_lock(&thread_lock) == EOWNERDEAD, "second owner death: EOWNERDEAD");
    pthread_mutex_unlock(&thread_lock);
    CHECK(pthread_mutex_lock(&thread_lock) == ENOTRECOVERABLE, "unlocked without consistent: ENOTRECOVERABLE");
    CHECK(pthread_mutex_trylock(&thread_lock) == ENOTRECOVERABLE, "trylock: ENOTRECOVERABLE");

    /* A waiter already blocked in the kernel is woken by the owner's death. */
    pthread_mutex_t waited;
    make_robust(&waited, 0);
    struct waiter_arg w = {&waited, -1};
    pthread_t owner, waiter;
    pthread_create(&owner, NULL, hold_then_die, &waited);
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    pthread_create(&waiter, NULL, wait_for_lock, &w);
    pthread_join(owner, NULL);
    pthread_join(waiter, NULL);
    CHECK(w.result == EOWNERDEAD, "a blocked waiter gets EOWNERDEAD when the owner dies");

    /* A process dies holding a process-shared robust mutex. */
    pthread_mutex_t *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    make_robust(shared, 1);
    pid_t child = fork();
    if (child == 0) {
        pthread_mutex_lock(shared);
        _exit(7);
    }
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "the child exited holding the shared mutex");
    CHECK(pthread_mutex_lock(shared) == EOWNERDEAD, "parent locks: EOWNERDEAD");
    pthread_mutex_consistent(shared);
    pthread_mutex_unlock(shared);

    /* ... and one blocked in another process is woken by the death. */
    child = fork();
    if (child == 0) {
        pthread_mutex_lock(shared);
        struct timespec wait = {0, 50 * 1000 * 1000};
        nanosleep(&wait, NULL);
        _exit(0); /* dies holding it, while the parent waits */
    }
    nanosleep(&ts, NULL);
    int r = pthread_mutex_lock(shared);
    CHECK(r == EOWNERDEAD, "parent blocked in lock: EOWNERDEAD when the child dies");
    pthread_mutex_consistent(shared);
    pthread_mutex_unlock(shared);
    waitpid(child, &status, 0);

    /* get_robust_list of another process (a child of ours: allowed) */
    int ready[2];
    pipe(ready);
    child = fork();
    if (child == 0) {
        write(ready[1], "r", 1); /* after fork's set_robust_list */
        pause();
        _exit(0);
    }
    char byte;
    read(ready[0], &byte, 1);
    CHECK(syscall(SYS_get_robust_list, child, &head, &len) == 0 && len == sizeof(struct robust_head),
          "get_robust_list of a child process");
    kill(child, SIGKILL);
    waitpid(child, &status, 0);

    /* ... but not of a process of another user (ptrace_may_access): EPERM. */
    child = fork();
    if (child == 0) {
        pid_t parent = getppid();
        int dropped = getuid() == 0 && setresgid(65534, 65534, 65534) == 0 && setresuid(65534, 65534, 65534) == 0;
        if (!dropped) /* not root: the parent is another user's only when we are root */
            _exit(0);
        long r = syscall(SYS_get_robust_list, parent, &head, &len);
        _exit(r == -1 && errno == EPERM ? 0 : 1);
    }
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "get_robust_list of another user's process: EPERM");

    /* The kernel's walk of a hand-made list. */
    pthread_create(&t, NULL, raw_list_thread, NULL);
    pthread_join(t, NULL);
    CHECK(raw_a.word == FUTEX_OWNER_DIED, "held lock: FUTEX_OWNER_DIED, the tid cleared");
    CHECK(raw_b.word == (FUTEX_OWNER_DIED | FUTEX_WAITERS), "held lock with waiters: FUTEX_WAITERS kept");
    CHECK(raw_c.word == 12345, "another thread's lock is left alone");
    CHECK(raw_pending.word == FUTEX_OWNER_DIED, "the list_op_pending lock is marked too");

    /* A bad list pointer ends the walk quietly: the thread's exit goes on. */
    uint32_t bad_tid = 0;
    pthread_create(&t, NULL, bad_list_thread, &bad_tid);
    CHECK(pthread_join(t, NULL) == 0 && bad_tid != 0, "a thread with a bad robust list exits normally");

    /* exec walks the list as exit does (shown by the fork child: exec of a missing file
     * keeps the image, so exec /bin/true with a held lock). */
    child = fork();
    if (child == 0) {
        pthread_mutex_lock(shared);
        execl("/bin/true", "true", (char *)NULL);
        _exit(99);
    }
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exec'd holding the shared mutex");
    CHECK(pthread_mutex_lock(shared) == EOWNERDEAD, "after the holder's exec: EOWNERDEAD");
    pthread_mutex_consistent(shared);
    pthread_mutex_unlock(shared);
    return 0;
}
