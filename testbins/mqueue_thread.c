/* mq_notify with SIGEV_THREAD, as glibc implements it: a netlink socket its helper thread
 * reads, to which the kernel sends a cookie when the first message arrives (the
 * notification function runs in a new thread with the sigev_value) or when the
 * registration is removed. */
#include <mqueue.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <fcntl.h>
static volatile int fired; static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER; static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static void fn(union sigval v){ pthread_mutex_lock(&m); fired = v.sival_int; pthread_cond_signal(&c); pthread_mutex_unlock(&m); }
int main(){
  mq_unlink("/pykern_mq_thread"); mqd_t q = mq_open("/pykern_mq_thread", O_CREAT|O_RDWR, 0600, NULL); if (q<0){perror("mq_open");return 1;}
  struct sigevent ev; memset(&ev,0,sizeof ev); ev.sigev_notify=SIGEV_THREAD; ev.sigev_notify_function=fn; ev.sigev_value.sival_int=42;
  if (mq_notify(q,&ev)) { perror("mq_notify"); return 1; }
  mq_send(q, "hi", 2, 0);
  pthread_mutex_lock(&m); while(!fired) pthread_cond_wait(&c,&m); pthread_mutex_unlock(&m);
  printf("notified with %d\n", fired);
  /* register again and unregister: NOTIFY_REMOVED path */
  char buf[8192]; mq_receive(q, buf, sizeof buf, 0);
  if (mq_notify(q,&ev)) { perror("mq_notify 2"); return 1; }
  if (mq_notify(q,NULL)) { perror("mq_notify NULL"); return 1; }
  printf("unregistered\n");
  mq_close(q); mq_unlink("/pykern_mq_thread"); return 0; }
