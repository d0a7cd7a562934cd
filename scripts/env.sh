# Sourced by scripts/course.sh and scripts/test.sh: the environment every course run uses.
export JUPYTER_PATH="$PWD/.venvs/modern/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}   # tiny runs: 2 threads on 2 shared cores ran 9-40x slower
export TOKENIZERS_PARALLELISM=false
export PYDEVD_DISABLE_FILE_VALIDATION=1
export PATH="$PWD/.venvs/modern/bin:$PATH"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # course_tools (the machinery) is not installed: it runs from here
