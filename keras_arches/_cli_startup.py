"""Start-up of the ``keras-arches`` command: TensorFlow's log stays hidden unless ``--verbose``.

The package imports TensorFlow as it loads, before :func:`keras_arches.cli.main` runs, so the
package imports this module first; it acts only in a process started as the command
(``keras-arches ...``, ``python -m keras_arches ...``, ``python -m keras_arches.cli ...``).
Programs that import the library keep TensorFlow's logging as they set it.

It sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless set), which hides TensorFlow's C++ INFO and WARNING
lines. TensorFlow 2.21 writes some lines while it loads, through absl before absl logging is
initialised, and does not apply the variable to them (the oneDNN, CUDA-driver and absl
notices): those are filtered out of stderr while TensorFlow is imported, by the same level.
"""

import os
import re
import sys
import tempfile

COMMAND = "keras-arches"
_MODULES = ("keras_arches", "keras_arches.cli")
# absl's record prefix: severity letter, MMDD, the time (its seconds count from the epoch
# before absl is initialised), thread id, file:line].
_RECORD = re.compile(r"([IWEF])\d{4} \d+:\d+:\d+\.\d+ +\d+ [^\]]+\] ")
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called"
# TF_CPP_MIN_LOG_LEVEL n hides the first n severities.
_SEVERITIES = "IWEF"


def started_as_command(argv=None, orig_argv=None):
    """Whether this process runs the command: its script, or ``python -m`` on the package."""
    argv = sys.argv if argv is None else argv
    orig_argv = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    script = re.sub(r"(-script\.pyw?|\.exe)$", "", os.path.basename(argv[0] if argv else ""))
    if script == COMMAND:
        return True
    options = iter(orig_argv[1:])  # the interpreter's options end at -c, -m or the script
    for option in options:
        if option in ("-X", "-W"):
            next(options, None)
        elif option.startswith("-m"):
            return (option[2:] or next(options, "")) in _MODULES
        elif option == "-c" or not option.startswith("-"):
            return False
    return False


def quiet_tensorflow():
    """Sets TF_CPP_MIN_LOG_LEVEL=2 unless set, and imports TensorFlow with its load-time lines
    below that level removed from stderr."""
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    hidden = _SEVERITIES[: int(level)] if level.isdigit() else ""
    if not hidden or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _hidden(line, hidden)))
            sys.stderr.flush()


def _hidden(line, severities):
    if line.startswith(_ABSL_NOTICE):
        return "W" in severities
    record = _RECORD.match(line)
    return bool(record) and record.group(1) in severities


if started_as_command() and "--verbose" not in sys.argv[1:]:
    quiet_tensorflow()
