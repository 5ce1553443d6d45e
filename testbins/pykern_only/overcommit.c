/* overcommit: vm.overcommit_memory's three modes, run by tests/test_limits.py under
 * `pykern run --max-memory 256M` (pykern-only: it writes /proc/sys/vm/overcommit_memory,
 * which natively would change the host). In mode 2 every request that would take
 * Committed_AS past CommitLimit fails with ENOMEM up front: mmap (MAP_NORESERVE too),
 * brk, mprotect to writable, fork; giving memory back makes room again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"

#define MB (1L << 20)
#define CHUNK (8 * MB)
#define MAX_CHUNKS 4096

static long meminfo_kb(const char *name)
{
    char line[256];
    long value = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':')
            value = atol(line + strlen(name) + 1);
    if (f)
        fclose(f);
    return value;
}

static void set_mode(const char *mode)
{
    FILE *f = fopen("/proc/sys/vm/overcommit_memory", "w");
    CHECK(f && fputs(mode, f) >= 0 && fclose(f) == 0, "vm.overcommit_memory is writable");
}

static void *map(long size, int prot, int flags)
{
    return mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
}

int main(void)
{
    static char *chunks[MAX_CHUNKS];
    long limit = meminfo_kb("CommitLimit") * 1024, before = meminfo_kb("Committed_AS") * 1024;
    CHECK(limit == 128 * MB, "CommitLimit is overcommit_ratio (50) % of --max-memory");
    CHECK(before > 0 && before < limit / 4, "Committed_AS counts what is mapped writable");

    set_mode("2\n");
    int n = 0;
    errno = 0;
    while (n < MAX_CHUNKS && (chunks[n] = map(CHUNK, PROT_READ | PROT_WRITE, 0)) != MAP_FAILED)
        n++;
    CHECK(n < MAX_CHUNKS && errno == ENOMEM, "mode 2: mmap fails with ENOMEM once the limit is reached");
    long got = n * CHUNK;
    CHECK(got >= (limit - before) * 8 / 10 && got <= limit - before, "mode 2: what could be mapped is CommitLimit - Committed_AS");
    long now = meminfo_kb("Committed_AS") * 1024;
    CHECK(now >= before + got && now <= limit, "mode 2: Committed_AS tracks the mappings");

    errno = 0;
    CHECK(map(CHUNK, PROT_READ | PROT_WRITE, MAP_NORESERVE) == MAP_FAILED && errno == ENOMEM,
          "mode 2: MAP_NORESERVE is ignored");
    char *reserve = map(64 * MB, PROT_NONE, 0);
    CHECK(reserve != MAP_FAILED, "mode 2: a PROT_NONE reservation commits nothing");
    errno = 0;
    CHECK(mprotect(reserve, CHUNK, PROT_READ | PROT_WRITE) == -1 && errno == ENOMEM,
          "mode 2: mprotect to writable commits (ENOMEM)");
    CHECK(map(CHUNK, PROT_READ, 0) != MAP_FAILED, "mode 2: read-only private memory commits nothing");
    errno = 0;
    CHECK(sbrk(CHUNK) == (void *)-1 && errno == ENOMEM, "mode 2: brk fails (ENOMEM)");
    errno = 0;
    CHECK(mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == ENOMEM,
          "mode 2: shared anonymous memory commits too");

    /* fork: the child would commit a copy of it all (room is made for a little more) */
    munmap(chunks[--n], CHUNK);
    munmap(chunks[--n], CHUNK);
    errno = 0;
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    CHECK(pid == -1 && errno == ENOMEM, "mode 2: fork fails (ENOMEM) when the child's copy would not fit");

    for (int i = 0; i < n; i++)
        munmap(chunks[i], CHUNK);
    CHECK(meminfo_kb("Committed_AS") * 1024 <= before + 2 * MB, "mode 2: munmap gives the commitment back");
    char *p = map(CHUNK, PROT_READ | PROT_WRITE, 0);
    CHECK(p != MAP_FAILED, "mode 2: and mmap works again");
    memset(p, 1, CHUNK);
    pid = fork();
    if (pid == 0)
        _exit(p[CHUNK - 1] == 1 ? 0 : 1);
    int status;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "mode 2: so does fork");
    CHECK(mprotect(reserve, CHUNK, PROT_READ | PROT_WRITE) == 0, "mode 2: and mprotect");

    set_mode("1\n");
    p = map(4096 * MB, PROT_READ | PROT_WRITE, 0);
    CHECK(p != MAP_FAILED, "mode 1: any mapping succeeds (4 GiB with 256 MiB of memory)");
    munmap(p, 4096 * MB);

    set_mode("0\n");
    errno = 0;
    CHECK(map(512 * MB, PROT_READ | PROT_WRITE, 0) == MAP_FAILED && errno == ENOMEM,
          "mode 0: a mapping larger than the memory fails");
    p = map(512 * MB, PROT_READ | PROT_WRITE, MAP_NORESERVE);
    CHECK(p != MAP_FAILED, "mode 0: unless it is MAP_NORESERVE");
    p = map(64 * MB, PROT_READ | PROT_WRITE, 0);
    CHECK(p != MAP_FAILED, "mode 0: smaller ones succeed");
    return 0;
}
