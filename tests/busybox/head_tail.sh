# head and tail on a file and on a pipe.
i=1; while [ $i -le 20 ]; do echo "line $i"; i=$((i + 1)); done > lines
head -n 3 lines
tail -n 2 lines
tail -n +19 lines
head -c 10 lines; echo
cat lines | tail -n 1
