/* auxv: the initial process image built by exec. argc/argv/envp/auxv layout on the
 * stack (x86-64 psABI 3.4.1), the auxiliary vector entries glibc relies on, and the
 * arguments and one environment variable (PYKERN_TEST_VAR) passed by the test. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (cond) {                                                            \
            printf("ok %s\n", what);                                           \
        } else {                                                               \
            fflush(stdout);                                                    \
            fprintf(stderr, "FAIL %s: %s\n", what, #cond);                     \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

extern char **environ;
extern const Elf64_Ehdr __ehdr_start;
extern char _start[];

static const ElfW(Phdr) *iterated_phdr;
static int iterated_phnum;

static int phdr_callback(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    iterated_phdr = info->dlpi_phdr;
    iterated_phnum = info->dlpi_phnum;
    return 1;
}

/* Strings laid out back to back, as Linux copies them: each starts after the previous NUL. */
static int contiguous(char **v, int n)
{
    for (int i = 0; i + 1 < n; i++)
        if (v[i + 1] != v[i] + strlen(v[i]) + 1)
            return 0;
    return 1;
}

int main(int argc, char **argv, char **envp)
{
    /* Stack layout at entry: argc, argv[], NULL, envp[], NULL, auxv pairs, AT_NULL. */
    CHECK(((long *)argv)[-1] == argc, "argc sits just below argv");
    CHECK(((uintptr_t)argv - 8) % 16 == 0, "initial stack pointer is 16-byte aligned");
    CHECK(argv[argc] == NULL, "argv[argc] is NULL");
    CHECK(envp == argv + argc + 1 && environ == envp, "envp follows argv and equals environ");
    int envc = 0;
    while (envp[envc])
        envc++;
    Elf64_auxv_t *auxv = (Elf64_auxv_t *)(envp + envc + 1);
    int n = 0, matches = 1, seen_pagesz = 0, seen_hwcap = 0;
    for (; auxv[n].a_type != AT_NULL && n < 64; n++) {
        if (auxv[n].a_type == AT_PAGESZ)
            seen_pagesz = 1;
        /* glibc on x86 replaces AT_HWCAP with its own bits; compare the rest. */
        if (auxv[n].a_type == AT_HWCAP)
            seen_hwcap = 1;
        else if (getauxval(auxv[n].a_type) != auxv[n].a_un.a_val)
            matches = 0;
    }
    CHECK(auxv[n].a_type == AT_NULL && seen_pagesz, "auxv follows envp and ends with AT_NULL");
    CHECK(matches, "getauxval agrees with the auxv on the stack");
    CHECK(contiguous(argv, argc), "argv strings are contiguous");
    CHECK(envc == 0 || argv[argc - 1] + strlen(argv[argc - 1]) + 1 == envp[0], "envp strings follow argv strings");
    CHECK(contiguous(envp, envc), "envp strings are contiguous");
    CHECK((uintptr_t)argv[0] > (uintptr_t)&auxv[n], "strings lie above the auxv");

    CHECK(getauxval(AT_PAGESZ) == 4096 && sysconf(_SC_PAGESIZE) == 4096, "AT_PAGESZ is 4096");
    CHECK(getauxval(AT_PHDR) == (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff, "AT_PHDR is the program headers");
    CHECK(getauxval(AT_PHNUM) == __ehdr_start.e_phnum, "AT_PHNUM matches the ELF header");
    CHECK(getauxval(AT_PHENT) == sizeof(Elf64_Phdr), "AT_PHENT is sizeof(Elf64_Phdr)");
    dl_iterate_phdr(phdr_callback, NULL);
    CHECK((uintptr_t)iterated_phdr == getauxval(AT_PHDR) && iterated_phnum == (int)getauxval(AT_PHNUM),
          "dl_iterate_phdr sees the same program headers");
    CHECK(getauxval(AT_ENTRY) == (uintptr_t)_start, "AT_ENTRY is _start");
    CHECK(getauxval(AT_BASE) == 0, "AT_BASE is 0 (no interpreter)");

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    int nonzero = 0;
    for (int i = 0; rnd && i < 16; i++)
        nonzero |= rnd[i];
    CHECK(rnd != NULL && nonzero, "AT_RANDOM points at 16 readable bytes");
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    CHECK(execfn && strcmp(execfn, argv[0]) == 0, "AT_EXECFN equals argv[0]");
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    CHECK(platform && strcmp(platform, "x86_64") == 0, "AT_PLATFORM is x86_64");
    CHECK(getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid(), "AT_UID and AT_EUID");
    CHECK(getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid(), "AT_GID and AT_EGID");
    errno = 0;
    CHECK(getauxval(AT_SECURE) == 0 && errno == 0, "AT_SECURE is present and 0");
    CHECK(getauxval(AT_CLKTCK) == 100 && sysconf(_SC_CLK_TCK) == 100, "AT_CLKTCK is 100");
    CHECK(seen_hwcap, "AT_HWCAP is present");

    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    const char *var = getenv("PYKERN_TEST_VAR");
    printf("PYKERN_TEST_VAR=%s\n", var ? var : "(unset)");
    return 0;
}
