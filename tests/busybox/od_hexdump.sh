# od and hexdump of a few bytes.
printf 'AB\001\377z\n' > bytes
od -A x -t x1 bytes
od -c bytes
hexdump -C bytes
echo hello | od -b
