/* clone(CLONE_FILES) without CLONE_THREAD: parent and child are two processes sharing one
 * descriptor table. A file the child opens is the parent's too; when the child exits the
 * table lives on for the parent (its stdout still works: LeakSanitizer's tracer is such a
 * child); after exec, a process no longer shares its table (close-on-exec closes only
 * its own). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int opened = -1;

static int child(void *arg) {
    (void)arg;
    opened = open("/dev/null", O_RDONLY);
    return 0;
}

int main(void) {
    char *stack = malloc(1 << 16);
    pid_t pid = clone(child, stack + (1 << 16), CLONE_VM | CLONE_FILES | SIGCHLD, NULL);
    if (pid < 0) {
        perror("clone");
        return 1;
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d; its fd %s in the parent\n", WEXITSTATUS(status),
           opened >= 0 && fcntl(opened, F_GETFD) >= 0 ? "is open" : "is not open");
    fflush(stdout);
    if (write(1, "stdout still works\n", 19) != 19)
        return 2;
    if (write(2, "stderr still works\n", 19) != 19)
        return 3;
    close(opened);
    /* a child sharing the table closes a descriptor: the parent sees it closed */
    int fd = open("/dev/null", O_RDONLY);
    opened = fd;
    pid = clone((int (*)(void *))close, stack + (1 << 16), CLONE_VM | CLONE_FILES | SIGCHLD, (void *)(long)fd);
    waitpid(pid, &status, 0);
    printf("a descriptor the child closed: %s\n", fcntl(fd, F_GETFD) < 0 ? "closed here too" : "still open");
    return 0;
}
