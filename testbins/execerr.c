/* execerr: execve's failures leave the old image intact (ENOENT, EACCES, ENOEXEC,
 * E2BIG, ENOTDIR); close-on-exec descriptors close on a successful exec; a "#!" script
 * runs through execve. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char *what)
{
    if (ok) {
        printf("ok %s\n", what);
    } else {
        fprintf(stderr, "FAIL %s (errno %d %s)\n", what, errno, strerror(errno));
        failures++;
    }
    fflush(stdout);
}

static int exec_errno(const char *path, char *const argv[])
{
    char *envp[] = {"A=1", NULL};
    errno = 0;
    execve(path, argv, envp);
    return errno;
}

static int probe_fds(int keep, int gone)
{
    int keep_open = fcntl(keep, F_GETFD) != -1;
    int gone_closed = fcntl(gone, F_GETFD) == -1 && errno == EBADF;
    return keep_open && gone_closed ? 0 : 1;
}

int main(int argc, char **argv_main)
{
    char *argv[] = {"x", NULL};
    if (argc == 4 && strcmp(argv_main[1], "--probe-fds") == 0)
        return probe_fds(atoi(argv_main[2]), atoi(argv_main[3]));
    char dir[] = "/tmp/pykern-execerr-XXXXXX";
    char path[256];

    check(mkdtemp(dir) != NULL, "mkdtemp");
    check(exec_errno("./testbins/does-not-exist", argv) == ENOENT, "missing file -> ENOENT");

    snprintf(path, sizeof path, "%s/plain", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    write(fd, "\177ELF", 4);
    close(fd);
    check(exec_errno(path, argv) == EACCES, "file without x bit -> EACCES");
    check(exec_errno(dir, argv) == EACCES, "directory -> EACCES");
    chmod(path, 0755);
    check(exec_errno(path, argv) == ENOEXEC, "truncated ELF -> ENOEXEC");

    snprintf(path, sizeof path, "%s/text", dir);
    fd = open(path, O_CREAT | O_WRONLY, 0755);
    write(fd, "just text\n", 10);
    close(fd);
    check(exec_errno(path, argv) == ENOEXEC, "text without #! -> ENOEXEC");

    char notdir[300];
    snprintf(notdir, sizeof notdir, "%s/hello", path);
    check(exec_errno(notdir, argv) == ENOTDIR, "path through a file -> ENOTDIR");

    size_t big = 3 << 20;
    char *huge = malloc(big);
    memset(huge, 'a', big - 1);
    huge[big - 1] = 0;
    char *bigargv[] = {"x", huge, NULL};
    check(exec_errno("./testbins/hello", bigargv) == E2BIG, "3 MiB argument -> E2BIG");
    free(huge);

    snprintf(path, sizeof path, "%s/script", dir);
    fd = open(path, O_CREAT | O_WRONLY, 0755);
    dprintf(fd, "#!%s/missing-interpreter\n", dir);
    close(fd);
    check(exec_errno(path, argv) == ENOENT, "#! with a missing interpreter -> ENOENT");
    check(1, "old image still runs after every failure");

    /* A successful exec closes O_CLOEXEC descriptors and keeps the others. */
    int keep = open("/dev/null", O_RDONLY);
    int gone = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t pid = fork();
    if (pid == 0) {
        char kbuf[16], gbuf[16];
        snprintf(kbuf, sizeof kbuf, "%d", keep);
        snprintf(gbuf, sizeof gbuf, "%d", gone);
        char *fdargv[] = {"./testbins/execerr", "--probe-fds", kbuf, gbuf, NULL};
        execv("./testbins/execerr", fdargv);
        _exit(99);
    }
    int status;
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exec closes O_CLOEXEC fds and keeps the rest");

    /* "#!" through execve: the script's interpreter is echoargs. */
    pid = fork();
    if (pid == 0) {
        char *sargv[] = {"./testbins/shebang.sh", "from-execve", NULL};
        execv("./testbins/shebang.sh", sargv);
        _exit(98);
    }
    waitpid(pid, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "#! script through execve");

    unlink(path);
    snprintf(path, sizeof path, "%s/plain", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/text", dir);
    unlink(path);
    rmdir(dir);
    return failures ? 1 : 0;
}
