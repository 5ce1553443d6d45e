/* files_shm: testbins/files in /dev/shm, Linux's tmpfs against pykern's (pykern/fs/tmpfs.py). */
#define FILES_BASE "/dev/shm"
#include "files.c"
