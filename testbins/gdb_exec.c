/* exec and vfork for the gdb stub's tests (tests/test_gdb.py): with no argument the
   process replaces itself with gdb_basic (found next to argv[0]), so `catch exec` stops
   in gdb_basic's _start and gdb reads its symbols; with "vfork" a vfork child runs
   gdb_basic and the parent reports how it ended (after_child: a breakpoint gdb inserts
   again once the vfork is done). */
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char program[4096];

__attribute__((noinline)) int before_exec(void)
{
    return printf("gdb_exec: running %s\n", program);
}

__attribute__((noinline)) int after_child(int status)
{
    printf("gdb_exec: child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
    char self[4096];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(program, sizeof program, "%s/gdb_basic", dirname(self));
    before_exec();
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "vfork") == 0) {
        pid_t child = vfork();
        if (child < 0)
            return 1;
        if (child == 0) {
            execl(program, "gdb_basic", (char *)NULL);
            _exit(127);
        }
        int status;
        if (waitpid(child, &status, 0) != child)
            return 2;
        return after_child(status);
    }
    execl(program, "gdb_basic", (char *)NULL);
    perror("execl");
    return 127;
}
