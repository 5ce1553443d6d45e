# find | xargs over a small tree.
mkdir -p tree/a/b tree/c
for f in tree/one.txt tree/a/two.txt tree/a/b/three.log tree/c/four.txt; do echo "$f" > "$f"; done
find tree -name '*.txt' | sort | xargs cat
find tree -type d | sort
find tree -type f | xargs wc -l | sort
echo x y z | xargs -n 1 echo item
