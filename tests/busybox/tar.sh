# tar round trip: create, list, extract elsewhere, compare.
mkdir -p src/sub
echo one > src/one; echo two > src/sub/two; printf 'no newline' > src/three
tar -cf archive.tar src
tar -tf archive.tar | sort
mkdir out; tar -xf archive.tar -C out
cat out/src/one out/src/sub/two out/src/three; echo
tar -czf archive.tgz src && tar -tzf archive.tgz | sort | wc -l
