#!/bin/sh
echo "args:$1:$2"
echo "cwd:$(pwd)"
exit ${HR_EXIT:-0}
