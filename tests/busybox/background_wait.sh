# Background jobs and wait: each job's output and exit status.
(sleep 0.2; echo slow; exit 3) &
slow=$!
(echo fast; exit 4) &
fast=$!
wait $fast; echo "fast exited $?"
wait $slow; echo "slow exited $?"
for i in 1 2 3; do (echo "job $i" > out.$i) & done
wait
cat out.1 out.2 out.3
