# Background jobs and wait: each job's output and exit status.
(while [ ! -e go ]; do sleep 0.05; done; echo slow; exit 3) &
slow=$!
(echo fast; exit 4) &
fast=$!
wait $fast; echo "fast exited $?"
: > go
wait $slow; echo "slow exited $?"
for i in 1 2 3; do (echo "job $i" > out.$i) & done
wait
cat out.1 out.2 out.3
