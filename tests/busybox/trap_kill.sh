# trap a signal sent with kill, to the shell itself and to a child.
sleep 10 &
child=$!
kill $child; wait $child; echo "child killed: $?"
trap 'echo caught USR1' USR1
kill -USR1 $$
echo "after USR1"
trap 'echo caught TERM; exit 5' TERM
kill -TERM $$
echo "not reached"
