# sort, uniq and wc in a pipeline.
printf 'pear\napple\npear\nfig\napple\npear\n' > fruit
sort fruit | uniq -c | sort -rn
sort -u fruit | wc -l
wc -l -w -c < fruit
sort -r fruit | head -n 2
