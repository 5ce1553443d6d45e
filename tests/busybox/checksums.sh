# md5sum and sha256sum, and their -c check.
printf 'pykern\n' > a; printf '' > empty
md5sum a empty
sha256sum a empty
sha256sum a > sums; sha256sum -c sums
echo tampered >> a; sha256sum -c sums; echo "check after change: $?"
