# awk in a pipeline: fields, sums, printf, an associative array.
printf 'ann 3 x\nbob 5 y\nann 4 z\ncid 1 x\n' |
	awk '{ sum[$1] += $2; total += $2 } END { for (k in sum) printf "%s=%d\n", k, sum[k] | "sort"; close("sort"); print "total", total }'
echo "1 2 3" | awk '{ print $3 * $2 + $1, NF, length($0) }'
