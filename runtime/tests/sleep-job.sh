#!/bin/bash
# A stand-in job for the runtime's tests: it holds its place in the PBS emulator's queue until it is cancelled.
sleep 600
