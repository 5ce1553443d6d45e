# cpio round trip in the newc format.
mkdir -p in/d
echo first > in/a; echo second > in/d/b
find in | sort | cpio -o -H newc > archive.cpio 2>/dev/null
mkdir out; cd out
cpio -i -d < ../archive.cpio 2>/dev/null
find . | sort
cat in/a in/d/b
