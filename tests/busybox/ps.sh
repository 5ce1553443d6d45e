# ps lists the script's own shell, and itself (busybox runs ps in a fork of the shell, so
# it shows as "{ps}" followed by the shell's command line). The listing is kept in ps.out,
# whose other lines depend on what else runs: natively the host's processes, under pykern
# the guest's only (tests/test_busybox.py checks that).
ps -o pid,args > ps.out
grep -q '^ *[0-9]* /bin/busybox sh .*/ps.sh$' ps.out && echo "ps lists the script"
grep -q '^ *[0-9]* {ps} /bin/busybox sh .*/ps.sh$' ps.out && echo "ps lists itself"
