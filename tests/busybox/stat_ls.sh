# stat and ls -l on files whose times are set: modes, sizes, link counts, names.
umask 022
echo 12345 > file; mkdir dir; ln -s file link; ln file hard
chmod 640 file; touch -d '2020-01-02 03:04:05' file dir hard
stat -c '%n %s %a %F %h' file link hard; stat -c '%n %a %F' dir
ls -l file hard | awk '{ print $1, $2, $5, $9 }'
ls -ld dir | awk '{ print $1, $9 }'
ls -l link | awk '{ print $1, $9, $10, $11 }'
ls -1 --full-time file | awk '{ print $6, $7 }' | cut -c1-19
