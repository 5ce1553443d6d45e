# The session the script runs in: its id reads 0 exactly when the session's leader lies
# outside the pid namespace (a container), natively and under pykern alike; a child
# started by setsid leads a session of its own.
read pid comm state ppid pgrp session rest < /proc/self/stat
if [ "$session" = 0 ]; then echo "session: outside the pid namespace"; else echo "session: visible"; fi
setsid sh -c 'read pid comm state ppid pgrp session rest < /proc/self/stat; [ "$pid" = "$session" ] && echo "setsid: leads its own session"'
