/* sysv_msg: System V message queues against Linux. Receiving by type (0, > 0, < 0,
 * MSG_EXCEPT), MSG_NOERROR and E2BIG, IPC_NOWAIT and ENOMSG, MSG_COPY, a receiver that
 * sleeps until another process sends, a sender that sleeps while the queue is full,
 * IPC_STAT/IPC_SET (msg_qbytes), IPC_RMID waking a sleeper with EIDRM, and bad input. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

struct msg {
    long mtype;
    char mtext[64];
};

static int snd(int id, long type, const char *text, int flags)
{
    struct msg m;
    m.mtype = type;
    snprintf(m.mtext, sizeof m.mtext, "%s", text);
    return msgsnd(id, &m, strlen(text), flags);
}

static long rcv_type; /* the type of the last message received */

static const char *rcv(int id, long type, int flags)
{
    static struct msg m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(id, &m, sizeof m.mtext - 1, type, flags);
    if (n < 0)
        return NULL;
    m.mtext[n] = 0;
    rcv_type = m.mtype;
    return m.mtext;
}

static struct msqid_ds stat_of(int id)
{
    struct msqid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (msgctl(id, IPC_STAT, &ds) != 0) {
        perror("msgctl");
        exit(1);
    }
    return ds;
}

static void on_alarm(int sig) { (void)sig; }

static void wait_asleep(pid_t pid) /* until /proc/PID/stat says it sleeps (S) */
{
    char path[64], text[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 5000; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(text, 1, sizeof text - 1, f);
            fclose(f);
            text[n] = 0;
            char *end = strrchr(text, ')');
            if (end && end[1] == ' ' && end[2] == 'S')
                return;
        }
        usleep(1000);
    }
}

int main(void)
{
    pid_t me = getpid();
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    CHECK(id >= 0, "msgget");
    struct msqid_ds ds = stat_of(id);
    CHECK(ds.msg_qnum == 0 && ds.msg_cbytes == 0 && ds.msg_qbytes > 0 && ds.msg_ctime > 0, "empty queue");

    CHECK(snd(id, 3, "three", 0) == 0 && snd(id, 1, "one", 0) == 0 && snd(id, 2, "two", 0) == 0 &&
          snd(id, 1, "one again", 0) == 0 && snd(id, 5, "five", 0) == 0, "five messages sent");
    ds = stat_of(id);
    CHECK(ds.msg_qnum == 5 && ds.msg_cbytes == 5 + 3 + 3 + 9 + 4 && ds.msg_lspid == me && ds.msg_stime > 0,
          "IPC_STAT: qnum, cbytes, lspid");

    struct msg m;
    CHECK(msgrcv(id, &m, sizeof m.mtext, 1, IPC_NOWAIT | MSG_COPY) == 3 && m.mtype == 1 && memcmp(m.mtext, "one", 3) == 0,
          "MSG_COPY of index 1");
    errno = 0;
    CHECK(msgrcv(id, &m, sizeof m.mtext, 9, IPC_NOWAIT | MSG_COPY) == -1 && errno == ENOMSG, "MSG_COPY past the end: ENOMSG");
    errno = 0;
    CHECK(msgrcv(id, &m, sizeof m.mtext, 0, MSG_COPY) == -1 && errno == EINVAL, "MSG_COPY without IPC_NOWAIT: EINVAL");
    CHECK(stat_of(id).msg_qnum == 5, "MSG_COPY left the queue alone");

    const char *t = rcv(id, 2, 0);
    CHECK(t && strcmp(t, "two") == 0, "msgtyp 2: the first of type 2");
    t = rcv(id, -4, 0);
    CHECK(t && strcmp(t, "one") == 0 && rcv_type == 1, "msgtyp -4: the first of the lowest type");
    t = rcv(id, 1, MSG_EXCEPT);
    CHECK(t && strcmp(t, "three") == 0, "MSG_EXCEPT 1: the first of another type");
    errno = 0;
    CHECK(msgrcv(id, &m, 2, 0, 0) == -1 && errno == E2BIG, "too small a buffer: E2BIG");
    CHECK(stat_of(id).msg_qnum == 2, "E2BIG kept the message");
    CHECK(msgrcv(id, &m, 2, 0, MSG_NOERROR) == 2 && memcmp(m.mtext, "on", 2) == 0, "MSG_NOERROR truncates");
    t = rcv(id, 0, 0);
    CHECK(t && strcmp(t, "five") == 0, "msgtyp 0: the first");
    errno = 0;
    CHECK(rcv(id, 0, IPC_NOWAIT) == NULL && errno == ENOMSG, "empty with IPC_NOWAIT: ENOMSG");
    ds = stat_of(id);
    CHECK(ds.msg_qnum == 0 && ds.msg_cbytes == 0 && ds.msg_lrpid == me && ds.msg_rtime > 0, "empty again, lrpid");

    /* a receiver that sleeps until another process sends */
    pid_t child = fork();
    if (child == 0) {
        const char *got = rcv(id, 7, 0);
        CHECK(got && strcmp(got, "for seven") == 0, "child: woke with its message");
        _exit(0);
    }
    usleep(100000);
    int rc = snd(id, 6, "not for the child", 0);
    rc |= snd(id, 7, "for seven", 0);
    int status;
    waitpid(child, &status, 0);
    CHECK(rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "sleeping receiver got type 7");
    CHECK(stat_of(id).msg_qnum == 1, "type 6 is still there");
    rcv(id, 0, 0);

    /* a full queue: IPC_NOWAIT, then a sender that sleeps */
    ds = stat_of(id);
    ds.msg_qbytes = 20;
    CHECK(msgctl(id, IPC_SET, &ds) == 0 && stat_of(id).msg_qbytes == 20, "IPC_SET msg_qbytes 20");
    CHECK(snd(id, 1, "0123456789", 0) == 0 && snd(id, 1, "0123456789", 0) == 0, "queue filled");
    errno = 0;
    CHECK(snd(id, 1, "x", IPC_NOWAIT) == -1 && errno == EAGAIN, "full with IPC_NOWAIT: EAGAIN");
    child = fork();
    if (child == 0) {
        CHECK(snd(id, 2, "late", 0) == 0, "child: sender woke when room was made");
        _exit(0);
    }
    usleep(100000);
    t = rcv(id, 0, 0);
    waitpid(child, &status, 0);
    CHECK(t && WIFEXITED(status) && WEXITSTATUS(status) == 0, "blocked sender finished");
    CHECK(stat_of(id).msg_qnum == 2, "two messages queued");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    ualarm(50000, 0);
    errno = 0;
    CHECK(rcv(id, 99, 0) == NULL && errno == EINTR, "a signal interrupts msgrcv: EINTR even with SA_RESTART");

    /* errors */
    errno = 0;
    CHECK(snd(id, 0, "x", 0) == -1 && errno == EINVAL, "mtype 0: EINVAL");
    errno = 0;
    CHECK(msgsnd(id, &m, 100000, 0) == -1 && errno == EINVAL, "msgsz past MSGMAX: EINVAL");
    errno = 0;
    CHECK(msgsnd(id, (void *)8, 4, 0) == -1 && errno == EFAULT, "bad msgp: EFAULT");
    errno = 0;
    CHECK(msgsnd(-1, &m, 4, 0) == -1 && errno == EINVAL, "bad msqid: EINVAL");
    errno = 0;
    CHECK(msgctl(id, 999, &ds) == -1 && errno == EINVAL, "bad command: EINVAL");
    key_t key = 0x5c000000 + (me & 0xffffff);
    int k = msgget(key, IPC_CREAT | IPC_EXCL | 0600);
    CHECK(k >= 0 && msgget(key, 0) == k, "keyed queue found again");
    errno = 0;
    CHECK(msgget(key, IPC_CREAT | IPC_EXCL) == -1 && errno == EEXIST, "IPC_EXCL: EEXIST");
    errno = 0;
    CHECK(msgget(key + 1, 0) == -1 && errno == ENOENT, "missing key: ENOENT");
    struct msginfo info;
    CHECK(msgctl(0, IPC_INFO, (struct msqid_ds *)&info) >= 0 && info.msgmax == 8192, "IPC_INFO msgmax");
    int maxidx = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);
    CHECK(maxidx >= 0 && info.msgpool >= 2, "MSG_INFO counts queues");
    CHECK(maxidx >= k % 32768 && msgctl(k % 32768, MSG_STAT, &ds) == k, "MSG_STAT by index (IPCMNI 32768)");

    child = fork();
    if (child == 0) {
        errno = 0;
        CHECK(rcv(k, 0, 0) == NULL && errno == EIDRM, "child: queue removed while asleep: EIDRM");
        _exit(0);
    }
    usleep(100000);
    wait_asleep(child); /* (almost always at once: a loaded machine may need more) */
    rc = msgctl(k, IPC_RMID, NULL);
    waitpid(child, &status, 0);
    CHECK(rc == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "IPC_RMID woke the receiver");
    CHECK(msgctl(id, IPC_RMID, NULL) == 0, "IPC_RMID");
    errno = 0;
    CHECK(msgctl(id, IPC_STAT, &ds) == -1 && errno == EINVAL, "removed queue: EINVAL");
    return 0;
}
