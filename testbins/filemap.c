/* filemap: private read-only file mappings (what ld.so makes of every library) see the
 * file as it is when mapped, however often it is mapped again: after a rewrite in place,
 * after a rewrite that puts the old mtime back, and as code to run. A mapping made
 * writable and written is its own: other mappings of the same bytes, in this process or
 * a child, keep the file's content. (pykern shares such pages between processes.) */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define SIZE 8192

static char path[64];

/* Rewrite the file in place with `text` at its start; with `backdate`, set its mtime
 * 100 s into the past (its ctime still moves: only the kernel sets that). */
static void rewrite(const char *text, int backdate)
{
    static char buf[SIZE];
    memset(buf, '.', sizeof buf);
    memcpy(buf, text, strlen(text));
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    CHECK(fd >= 0 && pwrite(fd, buf, SIZE, 0) == SIZE, "rewrite the file in place");
    if (backdate) {
        struct timespec times[2] = {{time(NULL) - 100, 0}, {time(NULL) - 100, 0}};
        CHECK(futimens(fd, times) == 0, "set its times 100 s back");
    }
    close(fd);
}

static char *map_file(int prot)
{
    int fd = open(path, O_RDONLY);
    char *p = mmap(NULL, SIZE, prot, MAP_PRIVATE, fd, 0);
    close(fd);
    return p;
}

static int mapped_text_is(const char *text)
{
    char *p = map_file(PROT_READ);
    int same = p != MAP_FAILED && memcmp(p, text, strlen(text)) == 0;
    munmap(p, SIZE);
    return same;
}

/* x86-64: mov eax, imm32; ret */
static void write_code(int value)
{
    unsigned char code[6] = {0xb8, 0, 0, 0, 0, 0xc3};
    memcpy(code + 1, &value, 4);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, code, sizeof code, 0) == sizeof code, "write code into the file");
    struct timespec times[2] = {{time(NULL) - 100, 0}, {time(NULL) - 100, 0}};
    futimens(fd, times);
    close(fd);
}

static int run_mapped_code(void)
{
    char *p = map_file(PROT_READ | PROT_EXEC);
    CHECK(p != MAP_FAILED, "map the file executable");
    int value = ((int (*)(void))p)();
    munmap(p, SIZE);
    return value;
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/filemap-test-%d", (int)getpid());
    rewrite("version 1", 1);
    CHECK(mapped_text_is("version 1"), "a mapping shows the file");
    CHECK(mapped_text_is("version 1"), "mapped again: the same");

    rewrite("version 2", 0);
    CHECK(mapped_text_is("version 2"), "rewritten in place: a new mapping shows the new text");

    rewrite("version 3", 1);
    CHECK(mapped_text_is("version 3"), "rewritten with its old times put back: the new text");
    rewrite("version 4", 1);
    CHECK(mapped_text_is("version 4"), "and once more: the new text");

    /* A file nobody has changed for long (its pages are the ones pykern shares). */
    static char original[SIZE];
    int fd = open("/bin/sh", O_RDONLY);
    CHECK(fd >= 0 && read(fd, original, SIZE) == SIZE, "read the start of /bin/sh");
    char *a = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0), *b = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(a != MAP_FAILED && b != MAP_FAILED && memcmp(a, original, SIZE) == 0 && memcmp(b, original, SIZE) == 0,
          "two mappings of /bin/sh show what read() gave");
    CHECK(mprotect(b, SIZE, PROT_READ | PROT_WRITE) == 0, "one made writable");
    memcpy(b, "private!!", 9);
    char *c = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(memcmp(a, original, SIZE) == 0 && memcmp(c, original, SIZE) == 0,
          "writing it changes neither the other mapping nor a new one");
    pid_t pid = fork();
    if (pid == 0) {
        char *d = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
        int ok = memcmp(d, original, SIZE) == 0 && memcmp(b, "private!!", 9) == 0;
        ok &= mprotect(d, SIZE, PROT_READ | PROT_WRITE) == 0 && mprotect(a, SIZE, PROT_READ | PROT_WRITE) == 0;
        memcpy(d, "child!!!!", 9);
        memcpy(a, "child!!!!", 9);
        _exit(ok && memcmp(c, original, SIZE) == 0 ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a child sees the file and the parent's own copy");
    char *e = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(memcmp(a, original, SIZE) == 0 && memcmp(e, original, SIZE) == 0, "the child's writes stayed in the child");
    close(fd);
    munmap(a, SIZE);
    munmap(b, SIZE);
    munmap(c, SIZE);
    munmap(e, SIZE);

    write_code(1);
    CHECK(run_mapped_code() == 1, "code mapped from the file runs");
    CHECK(run_mapped_code() == 1, "mapped again: the same code");
    write_code(2);
    CHECK(run_mapped_code() == 2, "the file's code changed (old times put back): the new code runs");

    unlink(path);
    return 0;
}
