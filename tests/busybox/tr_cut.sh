# tr and cut: case mapping, deleting, squeezing, fields and characters.
echo 'Hello, World' | tr 'a-z' 'A-Z'
echo 'a--b---c' | tr -s '-'
echo 'remove digits 123 here 45' | tr -d '0-9'
printf 'root:x:0:0\nuser:x:1000:1000\n' | cut -d: -f1,3
echo 'abcdefgh' | cut -c2-4
