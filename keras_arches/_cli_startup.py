"""Start-up of the ``keras-arches`` command: TensorFlow's log stays hidden unless ``--verbose``.

The package imports TensorFlow as it loads, before :func:`keras_arches.cli.main` runs, so the
package imports this module first; it acts only in a process started as the command
(``keras-arches ...``, ``python -m keras_arches ...``, ``python -m keras_arches.cli ...``).
Programs that import the library keep TensorFlow's logging as they set it.

It sets ``TF_CPP_MIN_LOG_LEVEL=2`` (unless set), which hides TensorFlow's C++ INFO and WARNING
lines. TensorFlow 2.21 writes its start-up lines through absl before absl logging is initialised
and does not apply the variable to them: the oneDNN notice, "Could not find cuda drivers" as it
loads, "failed call to cuInit" when it first looks for GPUs on a machine without a driver. So
TensorFlow is imported and looks for GPUs here, with these log records filtered out of stderr;
anything else written meanwhile (a Python warning, a traceback) is kept.
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
_HIDDEN = "IWE"  # fatal records stay


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
    """Sets TF_CPP_MIN_LOG_LEVEL=2 unless set; imports TensorFlow and lists the GPUs with the
    log records they write removed from stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            # Only the physical devices: the runtime is not started and stays configurable.
            tf.config.list_physical_devices("GPU")
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not _hidden(line)))
            sys.stderr.flush()


def _hidden(line):
    record = _RECORD.match(line)
    return line.startswith(_ABSL_NOTICE) or (bool(record) and record.group(1) in _HIDDEN)


if started_as_command() and "--verbose" not in sys.argv[1:]:
    quiet_tensorflow()
