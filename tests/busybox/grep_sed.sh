# A pipeline: grep selects lines, sed rewrites them.
printf 'alpha 1\nbeta 2\ngamma 3\nalphabet 4\n' > words
grep '^alpha' words | sed -e 's/alpha/ALPHA/' -e 's/ \([0-9]\)$/=\1/'
grep -c a words
grep -v beta words | sed -n '2p'
grep nothing words; echo "grep without a match: $?"
