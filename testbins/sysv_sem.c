/* sysv_sem: System V semaphores against Linux. Blocking semop between processes (a
 * child waits until the parent posts), GETNCNT/GETZCNT while it waits, all-or-nothing
 * operations, IPC_NOWAIT, semtimedop's timeout, EINTR by a signal, SEM_UNDO applied at
 * exit, IPC_RMID waking a sleeper with EIDRM, the ctl commands and bad-input errnos. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *__buf;
};

static int op(int id, unsigned short num, short delta, short flg)
{
    struct sembuf sb = {num, delta, flg};
    return semop(id, &sb, 1);
}

static int getval(int id, int num) { return semctl(id, num, GETVAL); }

static void wait_for(int id, int num, int cmd, int want) /* until GETNCNT/GETZCNT says so */
{
    for (int i = 0; i < 20000 && semctl(id, num, cmd) != want; i++)
        usleep(1000);
}

static void on_alarm(int sig) { (void)sig; }

int main(void)
{
    int id = semget(IPC_PRIVATE, 3, IPC_CREAT | 0600);
    CHECK(id >= 0, "semget 3 semaphores");
    struct semid_ds ds;
    union semun arg = {.buf = &ds};
    CHECK(semctl(id, 0, IPC_STAT, arg) == 0 && ds.sem_nsems == 3 && (ds.sem_perm.mode & 0777) == 0600,
          "IPC_STAT: nsems and mode");
    CHECK(ds.sem_otime == 0 && ds.sem_ctime > 0, "IPC_STAT: times");
    CHECK(getval(id, 0) == 0 && getval(id, 2) == 0, "new semaphores are 0");

    unsigned short vals[3] = {1, 2, 3}, got[3] = {0};
    arg.array = vals;
    CHECK(semctl(id, 0, SETALL, arg) == 0, "SETALL");
    arg.array = got;
    CHECK(semctl(id, 0, GETALL, arg) == 0 && got[0] == 1 && got[1] == 2 && got[2] == 3, "GETALL");
    CHECK(semctl(id, 1, GETPID) == getpid(), "GETPID after SETALL");

    /* all or nothing */
    struct sembuf two[2] = {{0, -1, 0}, {1, -5, IPC_NOWAIT}};
    errno = 0;
    CHECK(semop(id, two, 2) == -1 && errno == EAGAIN && getval(id, 0) == 1, "all-or-nothing: EAGAIN, nothing done");
    two[1].sem_op = -2;
    CHECK(semop(id, two, 2) == 0 && getval(id, 0) == 0 && getval(id, 1) == 0, "both operations applied");
    errno = 0;
    CHECK(op(id, 2, 0, IPC_NOWAIT) == -1 && errno == EAGAIN, "wait-for-zero on 3: EAGAIN");
    CHECK(op(id, 0, 0, 0) == 0, "wait-for-zero on 0 goes through");

    /* blocking between processes */
    pid_t child = fork();
    if (child == 0) {
        CHECK(op(id, 0, -1, 0) == 0, "child: semop woke after the parent's post");
        _exit(0);
    }
    wait_for(id, 0, GETNCNT, 1);
    CHECK(semctl(id, 0, GETNCNT) == 1 && semctl(id, 0, GETZCNT) == 0, "GETNCNT counts the sleeping child");
    int rc = op(id, 0, 1, 0);
    int status;
    waitpid(child, &status, 0);
    CHECK(rc == 0, "parent posts");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && getval(id, 0) == 0, "child took the post");
    CHECK(semctl(id, 0, GETPID) == child, "GETPID is the child's");

    child = fork();
    if (child == 0) {
        CHECK(op(id, 2, 0, 0) == 0, "child: wait-for-zero woke");
        _exit(0);
    }
    wait_for(id, 2, GETZCNT, 1);
    CHECK(semctl(id, 2, GETZCNT) == 1, "GETZCNT counts the child");
    arg.val = 0;
    rc = semctl(id, 2, SETVAL, arg);
    waitpid(child, &status, 0);
    CHECK(rc == 0, "SETVAL 0 wakes it");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "zero waiter done");

    /* SEM_UNDO */
    arg.val = 5;
    CHECK(semctl(id, 1, SETVAL, arg) == 0, "SETVAL 5");
    child = fork();
    if (child == 0) {
        CHECK(op(id, 1, -3, SEM_UNDO) == 0 && getval(id, 1) == 2, "child: -3 with SEM_UNDO");
        CHECK(op(id, 1, 1, 0) == 0, "child: +1 without undo");
        _exit(0);
    }
    waitpid(child, &status, 0);
    CHECK(getval(id, 1) == 6, "exit undid the -3 only");

    /* semtimedop timeout, EINTR */
    struct timespec ts = {0, 50 * 1000 * 1000};
    struct sembuf down = {0, -1, 0};
    errno = 0;
    CHECK(semtimedop(id, &down, 1, &ts) == -1 && errno == EAGAIN, "semtimedop times out: EAGAIN");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART; /* semop is never restarted */
    sigaction(SIGALRM, &sa, NULL);
    ualarm(50000, 0);
    errno = 0;
    CHECK(op(id, 0, -1, 0) == -1 && errno == EINTR, "a signal interrupts semop: EINTR even with SA_RESTART");
    CHECK(semctl(id, 0, GETNCNT) == 0, "the interrupted sleeper no longer counts");

    /* errors */
    errno = 0;
    CHECK(op(id, 7, 1, 0) == -1 && errno == EFBIG, "sem_num past nsems: EFBIG");
    errno = 0;
    CHECK(op(id, 0, 32767, 0) == 0 && op(id, 0, 1, 0) == -1 && errno == ERANGE, "past SEMVMX: ERANGE");
    errno = 0;
    CHECK(semop(id, two, 0) == -1 && errno == EINVAL, "nsops 0: EINVAL");
    struct sembuf many[501];
    memset(many, 0, sizeof many);
    errno = 0;
    CHECK(semop(id, many, 501) == -1 && errno == E2BIG, "nsops past SEMOPM: E2BIG");
    errno = 0;
    CHECK(semop(id, (struct sembuf *)8, 1) == -1 && errno == EFAULT, "bad sops: EFAULT");
    arg.val = 40000;
    errno = 0;
    CHECK(semctl(id, 0, SETVAL, arg) == -1 && errno == ERANGE, "SETVAL past SEMVMX: ERANGE");
    errno = 0;
    CHECK(semctl(id, 5, GETVAL) == -1 && errno == EINVAL, "GETVAL bad semnum: EINVAL");
    errno = 0;
    CHECK(semget(IPC_PRIVATE, 0, IPC_CREAT) == -1 && errno == EINVAL, "semget 0 semaphores: EINVAL");
    key_t key = 0x5b000000 + (getpid() & 0xffffff);
    int k = semget(key, 2, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(k >= 0 && semget(key, 1, 0) == k, "keyed set found again");
    errno = 0;
    CHECK(semget(key, 3, 0) == -1 && errno == EINVAL, "more semaphores than the set: EINVAL");
    errno = 0;
    CHECK(semget(key, 2, IPC_CREAT | IPC_EXCL) == -1 && errno == EEXIST, "IPC_EXCL: EEXIST");

    struct seminfo info;
    arg.__buf = &info;
    CHECK(semctl(0, 0, IPC_INFO, arg) >= 0 && info.semopm == 500 && info.semvmx == 32767, "IPC_INFO");
    int maxidx = semctl(0, 0, SEM_INFO, arg);
    CHECK(maxidx >= 0 && info.semusz >= 2, "SEM_INFO counts sets");
    arg.buf = &ds;
    CHECK(maxidx >= k % 32768 && semctl(k % 32768, 0, SEM_STAT, arg) == k, "SEM_STAT by index (IPCMNI 32768)");

    /* IPC_RMID wakes a sleeper with EIDRM */
    child = fork();
    if (child == 0) {
        errno = 0;
        CHECK(op(k, 0, -1, 0) == -1 && errno == EIDRM, "child: set removed while asleep: EIDRM");
        _exit(0);
    }
    wait_for(k, 0, GETNCNT, 1);
    rc = semctl(k, 0, IPC_RMID);
    waitpid(child, &status, 0);
    CHECK(rc == 0, "IPC_RMID");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sleeper got EIDRM");
    errno = 0;
    CHECK(semctl(k, 0, GETVAL) == -1 && errno == EINVAL, "removed set: EINVAL");
    CHECK(semctl(id, 0, IPC_RMID) == 0, "IPC_RMID the first set");
    return 0;
}
