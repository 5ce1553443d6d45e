/* vdso: the vDSO the kernel maps into every process. Finds it through
 * getauxval(AT_SYSINFO_EHDR), reads its ELF dynamic symbols and version definitions the
 * way glibc's dl_vdso_vsym and Go's runtime do, and checks: the five functions and their
 * weak aliases exist at version LINUX_2.6; each one, called through its pointer and
 * through libc, agrees with the syscall (a vDSO reading taken between two syscall
 * readings lies between them, so it never goes back relative to the syscall); clocks
 * the vDSO does not answer (CPU-time, bad ids) give the syscall's result; clock_getres
 * and getcpu give the syscall's answers; a bad pointer is a SIGSEGV, not EFAULT;
 * [vdso] and [vvar] are in /proc/self/maps; a forked child has the same vDSO. */
#define _GNU_SOURCE
#include <elf.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

typedef long (*clock_fn)(clockid_t, struct timespec *);
typedef long (*gtod_fn)(struct timeval *, struct timezone *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

static uintptr_t load_offset;
static const Elf64_Sym *symtab;
static const char *strtab;
static const Elf64_Half *versym;
static const Elf64_Verdef *verdef;
static uint32_t nsyms;

static void parse_vdso(uintptr_t base)
{
    const Elf64_Ehdr *ehdr = (const Elf64_Ehdr *)base;
    CHECK(memcmp(ehdr->e_ident, ELFMAG, SELFMAG) == 0 && ehdr->e_ident[EI_CLASS] == ELFCLASS64,
          "the vDSO is a 64-bit ELF image");
    CHECK(ehdr->e_type == ET_DYN && ehdr->e_machine == EM_X86_64, "it is an x86-64 shared object");
    const Elf64_Phdr *phdr = (const Elf64_Phdr *)(base + ehdr->e_phoff);
    const Elf64_Dyn *dynamic = NULL;
    int loads = 0;
    for (int i = 0; i < ehdr->e_phnum; i++) {
        if (phdr[i].p_type == PT_LOAD && loads++ == 0)
            load_offset = base + phdr[i].p_offset - phdr[i].p_vaddr;
        else if (phdr[i].p_type == PT_DYNAMIC)
            dynamic = (const Elf64_Dyn *)(base + phdr[i].p_offset);
    }
    CHECK(loads >= 1 && dynamic != NULL, "it has a PT_LOAD and a PT_DYNAMIC");
    const uint32_t *hash = NULL, *gnu_hash = NULL;
    for (const Elf64_Dyn *d = dynamic; d->d_tag != DT_NULL; d++) {
        uintptr_t at = load_offset + d->d_un.d_ptr;
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const Elf64_Sym *)at; break;
        case DT_STRTAB: strtab = (const char *)at; break;
        case DT_HASH: hash = (const uint32_t *)at; break;
        case DT_GNU_HASH: gnu_hash = (const uint32_t *)at; break;
        case DT_VERSYM: versym = (const Elf64_Half *)at; break;
        case DT_VERDEF: verdef = (const Elf64_Verdef *)at; break;
        }
    }
    CHECK(symtab && strtab && (hash || gnu_hash), "it has a symbol table, strings and a hash table");
    CHECK(versym && verdef, "it has symbol versions (DT_VERSYM, DT_VERDEF)");
    if (hash) {
        nsyms = hash[1];
    } else { /* the highest index a .gnu.hash bucket or chain reaches */
        uint32_t nbuckets = gnu_hash[0], symoffset = gnu_hash[1], bloom = gnu_hash[2];
        const uint32_t *buckets = gnu_hash + 4 + bloom * 2;
        const uint32_t *chain = buckets + nbuckets;
        nsyms = 0;
        for (uint32_t b = 0; b < nbuckets; b++)
            if (buckets[b] > nsyms)
                nsyms = buckets[b];
        if (nsyms >= symoffset) {
            while (!(chain[nsyms - symoffset] & 1))
                nsyms++;
            nsyms++;
        }
    }
}

static const char *version_name(uint32_t index)
{
    int wanted = versym[index] & 0x7fff;
    const Elf64_Verdef *d = verdef;
    for (;;) {
        if (d->vd_ndx == wanted && !(d->vd_flags & VER_FLG_BASE)) {
            const Elf64_Verdaux *aux = (const Elf64_Verdaux *)((const char *)d + d->vd_aux);
            return strtab + aux->vda_name;
        }
        if (!d->vd_next)
            return "";
        d = (const Elf64_Verdef *)((const char *)d + d->vd_next);
    }
}

/* The function `name` at version LINUX_2.6, as dl_vdso_vsym finds it. */
static void *vdso_sym(const char *name, int weak)
{
    for (uint32_t i = 1; i < nsyms; i++) {
        const Elf64_Sym *s = &symtab[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF)
            continue;
        if (strcmp(strtab + s->st_name, name) != 0 || strcmp(version_name(i), "LINUX_2.6") != 0)
            continue;
        if (ELF64_ST_BIND(s->st_info) != (weak ? STB_WEAK : STB_GLOBAL))
            continue;
        return (void *)(load_offset + s->st_value);
    }
    return NULL;
}

static long long ns(const struct timespec *ts) { return ts->tv_sec * 1000000000LL + ts->tv_nsec; }

static int sys_ns(clockid_t clock, long long *out)
{
    struct timespec ts;
    if (syscall(SYS_clock_gettime, clock, &ts) != 0)
        return -1;
    *out = ns(&ts);
    return 0;
}

/* syscall <= vDSO pointer <= libc <= syscall, many times, and never backwards. */
static int clock_agrees(clock_fn vdso_clock, clockid_t clock)
{
    long long last = 0;
    for (int i = 0; i < 2000; i++) {
        long long before, after;
        struct timespec via_vdso, via_libc;
        if (sys_ns(clock, &before) != 0 || vdso_clock(clock, &via_vdso) != 0 ||
            clock_gettime(clock, &via_libc) != 0 || sys_ns(clock, &after) != 0)
            return 0;
        if (via_vdso.tv_nsec < 0 || via_vdso.tv_nsec >= 1000000000)
            return 0;
        if (!(last <= before && before <= ns(&via_vdso) && ns(&via_vdso) <= ns(&via_libc) && ns(&via_libc) <= after))
            return 0;
        last = after;
    }
    return 1;
}

int main(void)
{
    uintptr_t base = getauxval(AT_SYSINFO_EHDR);
    CHECK(base != 0 && base % 4096 == 0, "AT_SYSINFO_EHDR points at a page");
    parse_vdso(base);

    static const char *const names[][2] = {
        {"__vdso_clock_gettime", "clock_gettime"}, {"__vdso_gettimeofday", "gettimeofday"},
        {"__vdso_time", "time"}, {"__vdso_getcpu", "getcpu"}, {"__vdso_clock_getres", "clock_getres"},
    };
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *global = vdso_sym(names[i][0], 0), *weak = vdso_sym(names[i][1], 1);
        printf("%s@LINUX_2.6 %s, weak %s@LINUX_2.6 %s\n", names[i][0], global ? "found" : "missing",
               names[i][1], weak == global ? "is the same function" : "differs");
        CHECK(global != NULL && weak == global, "exported at LINUX_2.6 with its weak alias");
    }
    clock_fn vdso_clock_gettime = (clock_fn)vdso_sym("__vdso_clock_gettime", 0);
    clock_fn vdso_clock_getres = (clock_fn)vdso_sym("__vdso_clock_getres", 0);
    gtod_fn vdso_gettimeofday = (gtod_fn)vdso_sym("__vdso_gettimeofday", 0);
    time_fn vdso_time = (time_fn)vdso_sym("__vdso_time", 0);
    getcpu_fn vdso_getcpu = (getcpu_fn)vdso_sym("__vdso_getcpu", 0);

    static const struct { clockid_t id; const char *name; } clocks[] = {
        {CLOCK_REALTIME, "CLOCK_REALTIME"}, {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
        {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"}, {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
        {CLOCK_TAI, "CLOCK_TAI"}, {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
        {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
    };
    char what[128];
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        snprintf(what, sizeof what, "%s: syscall <= vDSO <= libc <= syscall, never backwards", clocks[i].name);
        CHECK(clock_agrees(vdso_clock_gettime, clocks[i].id), what);
        struct timespec via_vdso = {-1, -1}, via_sys = {-2, -2};
        snprintf(what, sizeof what, "%s: clock_getres as the syscall's", clocks[i].name);
        CHECK(vdso_clock_getres(clocks[i].id, &via_vdso) == 0 && syscall(SYS_clock_getres, clocks[i].id, &via_sys) == 0 &&
              via_vdso.tv_sec == via_sys.tv_sec && via_vdso.tv_nsec == via_sys.tv_nsec, what);
    }
    CHECK(vdso_clock_getres(CLOCK_MONOTONIC, NULL) == 0, "clock_getres with a NULL res");

    /* Not answered in the vDSO: the syscall's result, -errno included (no errno set). */
    struct timespec ts;
    CHECK(vdso_clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0 && ns(&ts) > 0, "a CPU-time clock through the vDSO");
    CHECK(vdso_clock_gettime(10, &ts) == -EINVAL, "clock 10: -EINVAL from the vDSO");
    CHECK(vdso_clock_gettime(-1, &ts) == -EINVAL, "clock -1: -EINVAL from the vDSO");
    CHECK(vdso_clock_getres(100, &ts) == -EINVAL, "clock_getres of clock 100: -EINVAL");

    long long last = 0;
    int ordered = 1;
    for (int i = 0; i < 2000 && ordered; i++) {
        struct timeval before, tv, via_libc, after;
        struct timezone tz = {-1, -1};
        syscall(SYS_gettimeofday, &before, NULL);
        ordered = vdso_gettimeofday(&tv, &tz) == 0 && gettimeofday(&via_libc, NULL) == 0;
        syscall(SYS_gettimeofday, &after, NULL);
        long long b = before.tv_sec * 1000000LL + before.tv_usec, v = tv.tv_sec * 1000000LL + tv.tv_usec;
        long long l = via_libc.tv_sec * 1000000LL + via_libc.tv_usec, a = after.tv_sec * 1000000LL + after.tv_usec;
        ordered = ordered && last <= b && b <= v && v <= l && l <= a && tv.tv_usec < 1000000 && tz.tz_minuteswest == 0 &&
                  tz.tz_dsttime == 0;
        last = a;
    }
    CHECK(ordered, "gettimeofday: syscall <= vDSO <= libc <= syscall, timezone zero");
    CHECK(vdso_gettimeofday(NULL, NULL) == 0, "gettimeofday with NULL pointers");

    ordered = 1;
    for (int i = 0; i < 200 && ordered; i++) {
        long before = syscall(SYS_time, NULL), stored = 0;
        long via_vdso = vdso_time(&stored), via_libc = time(NULL), after = syscall(SYS_time, NULL);
        ordered = before <= via_vdso && via_vdso == stored && via_vdso <= via_libc && via_libc <= after;
    }
    CHECK(ordered, "time: syscall <= vDSO <= libc <= syscall, and stored through its pointer");
    CHECK(vdso_time(NULL) > 0, "time with a NULL pointer");

    /* getcpu: pinned to each CPU it may run on, the vDSO says what the syscall says. */
    cpu_set_t allowed, one;
    CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0, "sched_getaffinity");
    int agree = 1;
    for (int cpu = 0; cpu < CPU_SETSIZE && agree; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        unsigned via_vdso = 99, node = 99, via_sys = 98, sys_node = 98;
        agree = sched_setaffinity(0, sizeof one, &one) == 0 && vdso_getcpu(&via_vdso, &node, NULL) == 0 &&
                syscall(SYS_getcpu, &via_sys, &sys_node, NULL) == 0 && via_vdso == (unsigned)cpu &&
                via_sys == (unsigned)cpu && node == sys_node && sched_getcpu() == cpu;
    }
    CHECK(agree, "getcpu: the vDSO, the syscall and sched_getcpu name the CPU it is pinned to");
    CHECK(sched_setaffinity(0, sizeof allowed, &allowed) == 0 && vdso_getcpu(NULL, NULL, NULL) == 0,
          "getcpu with NULL pointers");

    /* A bad pointer: the vDSO writes it in user mode, so SIGSEGV (the syscall says EFAULT). */
    pid_t child = fork();
    if (child == 0) {
        vdso_clock_gettime(CLOCK_MONOTONIC, (struct timespec *)16);
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
          "a bad timespec pointer is SIGSEGV");
    CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (struct timespec *)16) == -1 && errno == EFAULT,
          "the syscall's answer to it is EFAULT");

    /* A forked child keeps the vDSO where it was. */
    child = fork();
    if (child == 0) {
        long long before = 0;
        struct timespec t;
        sys_ns(CLOCK_MONOTONIC, &before);
        _exit(!(getauxval(AT_SYSINFO_EHDR) == base && vdso_clock_gettime(CLOCK_MONOTONIC, &t) == 0 && ns(&t) >= before));
    }
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "a forked child calls the same vDSO");

    FILE *maps = fopen("/proc/self/maps", "r");
    CHECK(maps != NULL, "open /proc/self/maps");
    char line[512];
    int vdso_seen = 0, vvar_seen = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) != 2)
            continue;
        if (strstr(line, " [vdso]\n") && start == base && strstr(line, " r-xp "))
            vdso_seen = 1;
        if (strstr(line, " [vvar]\n") && strstr(line, " r--p "))
            vvar_seen = 1;
    }
    fclose(maps);
    CHECK(vdso_seen, "maps shows [vdso] r-xp at AT_SYSINFO_EHDR");
    CHECK(vvar_seen, "maps shows [vvar] r--p");
    return 0;
}
