# bench shell_script: a shell script of pipelines of several busybox applets, run by
# `busybox sh testbins/bench/shell_script.sh ROUNDS` (bench/run.py: shell_script). Each
# round runs two pipelines of four and three processes; every applet is named by its
# path (/bin/busybox APPLET) so that the shell forks and execs a program each time.
B=/bin/busybox
rounds=${1:-20}
i=0
total=0
while [ "$i" -lt "$rounds" ]; do
    n=$($B seq 1 300 | $B sort -rn | $B head -n 120 | $B wc -l)
    word=$(echo "round $i of the script" | $B tr a-z A-Z | $B cut -d' ' -f1,2)
    total=$((total + n))
    i=$((i + 1))
done
echo "shell_script: $rounds rounds, $total lines, last: $word"
