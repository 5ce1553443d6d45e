# gzip round trip, through a file and a pipe.
i=0; while [ $i -lt 200 ]; do echo "repetitive line $i"; i=$((i + 1)); done > data
cp data data.orig
gzip data
[ -e data ] || echo "data replaced by data.gz"
gunzip data.gz
cmp data data.orig && echo "file round trip ok"
gzip -c data | gzip -dc | cmp - data.orig && echo "pipe round trip ok"
gzip -c data | zcat | wc -l
