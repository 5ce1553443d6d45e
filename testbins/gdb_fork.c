/* A fork for the gdb stub's tests (tests/test_gdb.py): gdb stays with the parent, so a
   breakpoint in child_work never stops the child, which runs on. With "spin" or
   "sleep" as argument it runs until gdb interrupts it (Ctrl-C) and sets `release`. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

volatile int release;

__attribute__((noinline)) int child_work(int n)
{
    return n * 3;
}

__attribute__((noinline)) int parent_work(int n)
{
    return n + 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "spin") == 0) {
        while (!release)
            ;
        puts("released");
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "sleep") == 0) {
        struct timespec pause = {1000, 0};
        nanosleep(&pause, NULL);
        return 0;
    }
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        printf("child %d\n", child_work(5));
        return 0;
    }
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 2;
    printf("parent %d\n", parent_work(5));
    return 0;
}
