# dd: block sizes, count, skip, seek, conv.
printf '0123456789abcdefghij' > in
dd if=in of=out bs=4 count=2 2>/dev/null; cat out; echo
dd if=in bs=5 skip=2 count=1 2>/dev/null; echo
printf 'XY' | dd of=in bs=1 seek=3 conv=notrunc 2>/dev/null; cat in; echo
printf abc | dd bs=5 conv=sync 2>/dev/null | od -c
dd if=/dev/zero bs=1024 count=3 2>/dev/null | wc -c
dd if=in of=/dev/null bs=7 2>&1 | grep records
