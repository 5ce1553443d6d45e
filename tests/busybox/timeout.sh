# timeout stops a command that runs too long and lets a quick one finish.
timeout 1 sleep 10; echo "slow: $?"
timeout 5 true; echo "quick: $?"
timeout -s KILL 1 sleep 10; echo "killed: $?"
