/* errcheck.h: the checks of the testbins that test errnos (fifo, paths), and the
 * temporary directory they work in.
 *
 * OK(name, call): the call must succeed (>= 0). ERR(name, call, E): it must fail with -1
 * and errno E. TRUE(name, cond): cond must hold. Each prints "ok NAME"; the first failure
 * prints "FAIL NAME ..." to stderr and exits 1. enter_tmpdir() makes a fresh directory
 * TMPDIR_BASE/pykern-TAG-XXXXXX (/tmp unless defined before; the tracer's tests normalise
 * such names), enters it and removes it at exit. */
#ifndef TESTBINS_ERRCHECK_H
#define TESTBINS_ERRCHECK_H
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmtree.h"

static void check_failed(const char *name, const char *what, long got, int err, int line)
{
    fflush(stdout);
    fprintf(stderr, "FAIL %s: %s (line %d): got %ld, errno %d (%s)\n", name, what, line, got, err,
            strerror(err));
    if (!getenv("ERRCHECK_KEEP_GOING")) /* for hunting by hand: every failure at once */
        exit(1);
}

static void check_passed(const char *name)
{
    printf("ok %s\n", name);
    fflush(stdout);
}

#define TRUE(name, cond)                                               \
    do {                                                               \
        errno = 0;                                                     \
        if (cond)                                                      \
            check_passed(name);                                        \
        else                                                           \
            check_failed(name, #cond, 0, errno, __LINE__);             \
    } while (0)

#define ERR(name, call, err)                                           \
    do {                                                               \
        errno = 0;                                                     \
        long r_ = (long)(call);                                        \
        int e_ = errno;                                                \
        if (r_ == -1 && e_ == (err))                                   \
            check_passed(name);                                        \
        else                                                           \
            check_failed(name, #call " should fail with " #err, r_, e_, __LINE__); \
    } while (0)

/* The call's value goes to `var` (declared by the caller). */
#define OK(name, var, call)                                            \
    do {                                                               \
        errno = 0;                                                     \
        var = (call);                                                  \
        if ((long)(var) >= 0)                                          \
            check_passed(name);                                        \
        else                                                           \
            check_failed(name, #call, (long)(var), errno, __LINE__);   \
    } while (0)

static char tmpdir_path[64];

static pid_t tmpdir_owner;

static void remove_tmpdir(void)
{
    if (tmpdir_path[0] && getpid() == tmpdir_owner && chdir("/") == 0)
        remove_tree(tmpdir_path);
}

#ifndef TMPDIR_BASE
#define TMPDIR_BASE "/tmp"
#endif

__attribute__((unused)) static void enter_tmpdir(const char *tag)
{
    snprintf(tmpdir_path, sizeof tmpdir_path, TMPDIR_BASE "/pykern-%s-XXXXXX", tag);
    if (!mkdtemp(tmpdir_path) || chdir(tmpdir_path) != 0) {
        perror("mkdtemp");
        exit(1);
    }
    tmpdir_owner = getpid();
    atexit(remove_tmpdir);
}

#endif
