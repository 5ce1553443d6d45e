/* wait4 and getrusage(RUSAGE_CHILDREN) report a child's CPU time, its own reaped child's included, and
 * its voluntary context switches; times() reports the children's time too. */
#include <stdio.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/times.h>
int main(){
  pid_t p = fork();
  if (!p) { pid_t g = fork(); if (!g) { for (volatile long i=0;i<300000000;i++); _exit(0);} wait(0); for (volatile long i=0;i<100000000;i++); usleep(1000); _exit(0); }
  struct rusage ru; int st; wait4(p, &st, 0, &ru);
  long us = ru.ru_utime.tv_sec*1000000 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec*1000000 + ru.ru_stime.tv_usec;
  printf("wait4 rusage cpu > 0: %s, nvcsw > 0: %s\n", us > 0 ? "yes":"no", ru.ru_nvcsw > 0 ? "yes":"no");
  struct rusage c; getrusage(RUSAGE_CHILDREN, &c);
  long cus = c.ru_utime.tv_sec*1000000 + c.ru_utime.tv_usec + c.ru_stime.tv_sec*1000000 + c.ru_stime.tv_usec;
  printf("children cpu == wait4's: %s\n", cus == us ? "yes" : "no");
  struct tms t; times(&t); printf("times cutime+cstime > 0: %s\n", t.tms_cutime + t.tms_cstime > 0 ? "yes":"no");
  return 0;
}
