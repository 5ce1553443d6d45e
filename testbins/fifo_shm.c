/* fifo_shm: testbins/fifo in /dev/shm (pykern's tmpfs keeps FIFO nodes itself). */
#define TMPDIR_BASE "/dev/shm"
#include "fifo.c"
