/* setrlimit enforced where Linux enforces it: RLIMIT_AS (mmap, malloc), RLIMIT_DATA (brk and
 * private writable mappings, not read-only ones), RLIMIT_NOFILE (EMFILE), RLIMIT_CPU (SIGXCPU
 * past the soft limit, SIGKILL at the hard one). Each in a child. */
#define _GNU_SOURCE
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
static volatile int xcpu;
static void onxcpu(int s){ xcpu++; }
int main(){
  struct rlimit r;
  /* RLIMIT_AS */
  pid_t p = fork();
  if (!p) { r.rlim_cur = r.rlim_max = 256<<20; setrlimit(RLIMIT_AS,&r);
    void *m = mmap(0, 512<<20, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    printf("AS: mmap 512M %s\n", m==MAP_FAILED? strerrorname_np(errno):"ok");
    m = mmap(0, 16<<20, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    printf("AS: mmap 16M %s\n", m==MAP_FAILED? strerrorname_np(errno):"ok");
    void *q = malloc(400<<20); printf("AS: malloc 400M %s\n", q? "ok":"NULL");
    fflush(stdout); _exit(0);}
  waitpid(p,0,0);
  p = fork();
  if (!p) { r.rlim_cur = r.rlim_max = 1<<20; setrlimit(RLIMIT_DATA,&r);
    void *b = sbrk(0); int e = brk((char*)b + (4<<20)); printf("DATA: brk +4M %s\n", e? strerrorname_np(errno):"ok");
    void *m = mmap(0, 4<<20, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    printf("DATA: private writable mmap 4M %s\n", m==MAP_FAILED? strerrorname_np(errno):"ok");
    m = mmap(0, 4<<20, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0);
    printf("DATA: read-only mmap 4M %s\n", m==MAP_FAILED? strerrorname_np(errno):"ok");
    fflush(stdout); _exit(0);}
  waitpid(p,0,0);
  p = fork();
  if (!p) { r.rlim_cur = 5; r.rlim_max = 10; setrlimit(RLIMIT_NOFILE,&r);
    int n=0, fd; while ((fd=open("/dev/null",O_RDONLY))>=0) n++; printf("NOFILE: opened %d then %s\n", n, strerrorname_np(errno));
    fflush(stdout); _exit(0);}
  waitpid(p,0,0);
  p = fork();
  if (!p) { signal(SIGXCPU, onxcpu); r.rlim_cur = 1; r.rlim_max = 3; setrlimit(RLIMIT_CPU,&r);
    while (!xcpu) { }  /* no syscalls in the loop: pykern checks CPU limits after each quantum of instructions */
    struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID,&t);
    printf("CPU: SIGXCPU after about %lds\n", (long)((t.tv_sec * 1000000000L + t.tv_nsec + 500000000L) / 1000000000L)); fflush(stdout);
    for(;;); }
  int st; waitpid(p,&st,0); printf("CPU: child %s %s\n", WIFSIGNALED(st)?"killed by":"exited", WIFSIGNALED(st)? sigabbrev_np(WTERMSIG(st)):"");
  return 0;
}
