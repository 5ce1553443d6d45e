# The shell alone, no applet: variables, arithmetic, loops, functions, case, here-documents.
total=0
for i in 1 2 3 4 5; do total=$((total + i * i)); done
echo "sum of squares: $total"
greet() { echo "hello, $1"; return 3; }
greet world; echo "status $?"
case "pykern" in py*) echo "matched py*" ;; *) echo "no match" ;; esac
while read -r word count; do echo "$count x $word"; done <<END
apple 2
pear 5
END
set -- a "b c" d; echo "$# args, second is '$2'"
x=${undefined:-default}; echo "$x ${#x}"
exit 7
