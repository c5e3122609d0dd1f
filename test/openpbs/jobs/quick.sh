#!/bin/bash
# The differential scenario's short job: long enough for the server to record its session, then it ends.
sleep 3
echo finished
