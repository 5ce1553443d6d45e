"""procfs's contents (Linux's fs/proc/), generated from the kernel's own tables.

pykern/fs/procfs.py is the file system and its root directory; the files here each
generate one part, as Linux splits fs/proc/:

- common.py: what several parts need: a process's leader and state, guest paths of
  places (d_path), "alive or ESRCH";
- base.py: /proc/PID/ and /proc/PID/task/TID/ (fs/proc/base.c, fd.c): the magic links,
  cmdline, environ, auxv, comm, limits, oom_score(_adj), io, wchan, mounts, fd/, fdinfo/;
- array.py: stat, statm and status (fs/proc/array.c);
- task_mmu.py: maps, smaps and the memory counters the others show (fs/proc/task_mmu.c);
- system.py: the machine-wide files and /proc/sys (fs/proc/{meminfo,stat,uptime,
  loadavg,version}.c, kernel/sysctl.c), and cpuinfo from the CPU the guest runs on.

Nothing here reads the host's /proc for a process: every per-process value is the
guest's. Machine-wide values that are the host's (memory, load, CPU time, the kernel
version) come from the host, as the syscalls that report them (sysinfo, uname) do.
"""
