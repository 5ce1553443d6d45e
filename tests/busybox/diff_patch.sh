# diff -u and patch round trip.
printf 'one\ntwo\nthree\nfour\n' > old
printf 'one\n2\nthree\nfour\nfive\n' > new
diff -u old new > change.diff; echo "diff status $?"
sed -n '3,$p' change.diff
cp old work; patch work < change.diff
cmp work new && echo "patched equals new"
diff old old; echo "same files: $?"
