"""Keep TensorFlow's native start-up chatter out of the user's terminal.

TensorFlow and its absl logging write to file descriptor 2 from C++ (CUDA probing on a machine without
a GPU, op-definition notices from tf.data), which TF_CPP_MIN_LOG_LEVEL does not silence. While the
pipeline runs, fd 2 goes through a pipe; a thread drops those lines and passes every other line on,
so tinyedge's own progress and any real error message still reach stderr."""

from __future__ import annotations

import contextlib
import os
import sys
import threading

NOISE = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ", "W0000 ", "E0000 ")


@contextlib.contextmanager
def filtered_stderr():
    sys.stderr.flush()
    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as source:
            for line in source:
                if not line.decode(errors="replace").startswith(NOISE):
                    os.write(original, line)

    thread = threading.Thread(target=pump, name="tinyedge-stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(original, 2)      # closes the pipe's last write end: the pump sees EOF
        thread.join(timeout=5)
        os.close(original)
