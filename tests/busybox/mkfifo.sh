# A FIFO between two processes of the script.
mkfifo pipe
ls -l pipe | cut -c1
(echo "through the fifo"; echo "second line") > pipe &
cat pipe
wait
rm pipe; [ -e pipe ] || echo removed
