/* sysv_shm: System V shared memory against Linux. A segment attached before fork is the
 * same memory in parent and child; a second attach aliases the first; nattch, cpid and
 * lpid follow attaches, detaches, exec and exit; IPC_RMID destroys with the last detach;
 * SHM_RDONLY faults on a write; SHM_RND, SHM_REMAP, IPC_EXCL and the bad-input errnos. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static struct shmid_ds stat_of(int id)
{
    struct shmid_ds ds;
    memset(&ds, 0, sizeof ds);
    if (shmctl(id, IPC_STAT, &ds) != 0) {
        perror("shmctl IPC_STAT");
        exit(1);
    }
    return ds;
}

static long read_proc_long(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "exec") == 0) { /* the exec'd child: its attach is gone */
        int id = atoi(getenv("SYSV_SHM_ID"));
        CHECK(stat_of(id).shm_nattch == 1, "exec detached the child's attach");
        return 0;
    }
    pid_t me = getpid();
    int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
    CHECK(id >= 0, "shmget IPC_PRIVATE");
    struct shmid_ds ds = stat_of(id);
    CHECK(ds.shm_segsz == 10000 && ds.shm_nattch == 0 && ds.shm_cpid == me && ds.shm_lpid == 0,
          "fresh segment: size, nattch 0, cpid");
    CHECK((ds.shm_perm.mode & 0777) == 0600 && ds.shm_perm.uid == geteuid() && ds.shm_perm.cuid == geteuid(),
          "fresh segment: mode and owner");
    CHECK(ds.shm_ctime > 0 && ds.shm_atime == 0 && ds.shm_dtime == 0, "fresh segment: times");

    char *p = shmat(id, NULL, 0);
    CHECK(p != (void *)-1 && ((uintptr_t)p % 4096) == 0, "shmat anywhere, page aligned");
    CHECK(p[0] == 0 && p[9999] == 0, "new segment reads zero");
    ds = stat_of(id);
    CHECK(ds.shm_nattch == 1 && ds.shm_lpid == me && ds.shm_atime > 0, "nattch 1 after shmat");
    strcpy(p, "parent");

    char *q = shmat(id, NULL, SHM_RDONLY);
    CHECK(q != (void *)-1 && q != p, "second attach, read-only");
    CHECK(strcmp(q, "parent") == 0, "second attach sees the first's bytes");
    CHECK(stat_of(id).shm_nattch == 2, "nattch 2");

    pid_t child = fork();
    if (child == 0) {
        CHECK(strcmp(p, "parent") == 0, "child sees the parent's bytes");
        CHECK(stat_of(id).shm_nattch == 4, "fork: the child's attaches count");
        strcpy(p + 100, "child wrote");
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child ok");
    CHECK(strcmp(p + 100, "child wrote") == 0 && strcmp(q + 100, "child wrote") == 0,
          "parent sees the child's write through both attaches");
    ds = stat_of(id);
    CHECK(ds.shm_nattch == 2 && ds.shm_lpid == child && ds.shm_dtime > 0, "child exit detached: nattch, lpid");

    child = fork();
    if (child == 0) { /* a write to the read-only attach faults */
        signal(SIGSEGV, SIG_DFL);
        q[0] = 'x';
        _exit(0);
    }
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "write to SHM_RDONLY attach: SIGSEGV");

    CHECK(shmdt(q) == 0, "shmdt second attach");
    CHECK(stat_of(id).shm_nattch == 1, "nattch 1 after shmdt");
    errno = 0;
    CHECK(shmdt(q) == -1 && errno == EINVAL, "shmdt again: EINVAL");
    errno = 0;
    CHECK(shmdt(p + 1) == -1 && errno == EINVAL, "shmdt unaligned: EINVAL");

    child = fork();
    if (child == 0) {
        char arg[32];
        snprintf(arg, sizeof arg, "%d", id);
        setenv("SYSV_SHM_ID", arg, 1); /* (not in argv: the id differs from Linux's in traces) */
        execl("/proc/self/exe", "sysv_shm", "exec", (char *)NULL);
        _exit(127);
    }
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec'd child ok");

    /* fixed addresses: SHM_RND, occupied ranges, SHM_REMAP */
    char *want = p + 3 * 4096 * 16;
    errno = 0;
    CHECK(shmat(id, want + 10, 0) == (void *)-1 && errno == EINVAL, "unaligned address without SHM_RND: EINVAL");
    char *r = shmat(id, want + 10, SHM_RND);
    CHECK(r == want, "SHM_RND rounds down");
    errno = 0;
    CHECK(shmat(id, want, 0) == (void *)-1 && errno == EINVAL, "occupied address: EINVAL");
    CHECK(shmat(id, want, SHM_REMAP) == want, "SHM_REMAP replaces the mapping");
    CHECK(stat_of(id).shm_nattch == 2, "the replaced attach no longer counts");
    errno = 0;
    CHECK(shmat(id, NULL, SHM_REMAP) == (void *)-1 && errno == EINVAL, "SHM_REMAP without address: EINVAL");
    CHECK(shmdt(want) == 0 && stat_of(id).shm_nattch == 1, "detached");

    /* IPC_RMID while attached */
    CHECK(shmctl(id, IPC_RMID, NULL) == 0, "IPC_RMID while attached");
    ds = stat_of(id);
    CHECK((ds.shm_perm.mode & SHM_DEST) && ds.shm_perm.__key == IPC_PRIVATE, "marked SHM_DEST, key private");
    strcpy(p, "still here");
    CHECK(strcmp(p, "still here") == 0, "memory usable after IPC_RMID");
    CHECK(shmdt(p) == 0, "last detach");
    errno = 0;
    CHECK(shmctl(id, IPC_STAT, &ds) == -1 && errno == EINVAL, "destroyed with the last detach");

    /* keys */
    key_t key = 0x5a000000 + (me & 0xffffff);
    int k = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640);
    CHECK(k >= 0, "shmget key IPC_CREAT|IPC_EXCL");
    CHECK(shmget(key, 4096, 0) == k && shmget(key, 100, IPC_CREAT) == k, "same key, same segment");
    errno = 0;
    CHECK(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640) == -1 && errno == EEXIST, "IPC_EXCL again: EEXIST");
    errno = 0;
    CHECK(shmget(key, 8192, 0) == -1 && errno == EINVAL, "bigger than the segment: EINVAL");
    errno = 0;
    CHECK(shmget(key + 1, 4096, 0) == -1 && errno == ENOENT, "missing key: ENOENT");
    errno = 0;
    CHECK(shmget(IPC_PRIVATE, 0, IPC_CREAT) == -1 && errno == EINVAL, "size 0: EINVAL");

    struct shmid_ds set;
    memset(&set, 0, sizeof set);
    set.shm_perm.uid = geteuid();
    set.shm_perm.gid = getegid();
    set.shm_perm.mode = 0604;
    CHECK(shmctl(k, IPC_SET, &set) == 0 && (stat_of(k).shm_perm.mode & 0777) == 0604, "IPC_SET mode");
    CHECK(shmctl(k, SHM_LOCK, NULL) == 0 && (stat_of(k).shm_perm.mode & SHM_LOCKED), "SHM_LOCK");
    CHECK(shmctl(k, SHM_UNLOCK, NULL) == 0 && !(stat_of(k).shm_perm.mode & SHM_LOCKED), "SHM_UNLOCK");

    /* remap_file_pages: the attach maps the segment's second page instead */
    int two = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
    char *t = shmat(two, NULL, 0);
    t[0] = 'A';
    t[4096] = 'B';
    CHECK(syscall(SYS_remap_file_pages, t, 4096, 0, 1, 0) == 0 && t[0] == 'B' && t[4096] == 'B',
          "remap_file_pages: page 1 at the attach's start");
    errno = 0;
    CHECK(syscall(SYS_remap_file_pages, t, 4096, PROT_READ, 1, 0) == -1 && errno == EINVAL, "remap with prot: EINVAL");
    CHECK(stat_of(two).shm_nattch == 2 && shmctl(two, IPC_RMID, NULL) == 0,
          "two attaches: the new mapping and what is left of the old");
    CHECK(shmdt(t) == 0 && stat_of(two).shm_nattch == 1, "shmdt leaves the page mapped at another offset");
    CHECK(t[0] == 'B' && munmap(t, 4096) == 0, "munmap it");
    errno = 0;
    CHECK(shmctl(two, IPC_STAT, &ds) == -1 && errno == EINVAL, "the segment went with its last mapping");

    struct shminfo info;
    CHECK(shmctl(0, IPC_INFO, (struct shmid_ds *)&info) >= 0, "IPC_INFO");
    CHECK((long)info.shmmni == read_proc_long("/proc/sys/kernel/shmmni") && info.shmmin == 1,
          "IPC_INFO agrees with /proc/sys/kernel/shmmni");
    struct shm_info sinfo;
    int maxidx = shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo);
    CHECK(maxidx >= 0 && sinfo.used_ids >= 1, "SHM_INFO");
    CHECK(maxidx >= k % 32768 && shmctl(k % 32768, SHM_STAT, &ds) == k, "SHM_STAT by index (IPCMNI 32768)");

    errno = 0;
    CHECK(shmat(-1, NULL, 0) == (void *)-1 && errno == EINVAL, "shmat bad id: EINVAL");
    errno = 0;
    CHECK(shmctl(k, 999, &ds) == -1 && errno == EINVAL, "shmctl bad command: EINVAL");
    errno = 0;
    CHECK(shmctl(k, IPC_STAT, (struct shmid_ds *)8) == -1 && errno == EFAULT, "IPC_STAT to a bad pointer: EFAULT");
    CHECK(shmctl(k, IPC_RMID, NULL) == 0, "IPC_RMID unattached");
    errno = 0;
    CHECK(shmget(key, 4096, 0) == -1 && errno == ENOENT, "removed key is free");
    return 0;
}
