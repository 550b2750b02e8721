"""The export report: one :class:`ExportResult` per artefact, printed as a table, saved as JSON."""

import dataclasses
import json


@dataclasses.dataclass
class ExportResult:
    """The check of one exported artefact.

    ``max_abs_diff`` and ``top1_agreement`` compare the artefact's outputs with the Keras
    model's on ``samples`` inputs; ``max_abs_reference`` is the largest Keras output (the
    scale of the float32 bound); ``latency_ms`` is the mean time of one batch-1 call on this
    CPU; ``accuracy`` is the top-1 accuracy on labelled data when some was given.
    """

    format: str
    path: str
    size_bytes: int
    samples: int = 0
    max_abs_diff: float = None
    max_abs_reference: float = None
    top1_agreement: float = None
    latency_ms: float = None
    accuracy: float = None
    runtime: str = None
    ops: list = dataclasses.field(default_factory=list)
    passed: bool = True
    problems: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class ExportReport:
    """The checks of every artefact exported from one model, with the Keras reference.

    ``skipped`` maps each format left out to why and how to include it; ``app_files`` maps
    ``labels.txt`` and ``preprocessing.json`` to what they hold (or why one is missing).
    """

    model: str
    input_shape: tuple
    results: list
    keras_latency_ms: float = None
    keras_accuracy: float = None
    skipped: dict = dataclasses.field(default_factory=dict)
    app_files: dict = dataclasses.field(default_factory=dict)

    @property
    def passed(self):
        return all(result.passed for result in self.results)

    def failures(self):
        """``"format: problem; problem"`` for each failed artefact."""
        return [f"{r.format}: {'; '.join(r.problems)}" for r in self.results if not r.passed]

    def __getitem__(self, format):
        for result in self.results:
            if result.format == format:
                return result
        raise KeyError(
            f"No {format!r} result in this report. Have: {[r.format for r in self.results]}"
        )

    def to_dict(self):
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "keras_latency_ms": self.keras_latency_ms,
            "keras_accuracy": self.keras_accuracy,
            "passed": self.passed,
            "results": [dataclasses.asdict(result) for result in self.results],
            "skipped": dict(self.skipped),
            "app_files": dict(self.app_files),
        }

    def save(self, path):
        """Writes the report as JSON to ``path``."""
        with open(path, "w") as handle:
            json.dump(self.to_dict(), handle, indent=2)
        return path

    def table(self):
        """The report as a fixed-width text table."""

        def number(value, spec):
            width = int(spec.split(".")[0])
            return f"{'-':>{width}s}" if value is None else format(value, spec)

        header = (
            f"{'format':20s} {'size':>10s} {'max|delta|':>11s} {'top-1 agree':>11s} "
            f"{'accuracy':>8s} {'latency':>10s}  status"
        )
        lines = [f"{self.model} {tuple(self.input_shape)}", header, "-" * len(header)]
        lines.append(
            f"{'keras (reference)':20s} {'-':>10s} {'-':>11s} {'-':>11s} "
            f"{number(self.keras_accuracy, '8.2%')} {number(self.keras_latency_ms, '8.2f')}ms"
        )
        for r in self.results:
            status = "ok" if r.passed else "FAIL: " + "; ".join(r.problems)
            lines.append(
                f"{r.format:20s} {_human_size(r.size_bytes):>10s} "
                f"{number(r.max_abs_diff, '11.2e')} {number(r.top1_agreement, '11.2%')} "
                f"{number(r.accuracy, '8.2%')} {number(r.latency_ms, '8.2f')}ms  {status}"
            )
        lines += [f"{format:20s} skipped: {reason}" for format, reason in self.skipped.items()]
        lines += [f"{name:20s} {what}" for name, what in self.app_files.items()]
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def _human_size(size):
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
