#!/bin/bash
# The differential scenario's long job: runs until it is deleted (or its walltime ends).
sleep 600
