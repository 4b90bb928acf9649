"""models/MODEL_CARD.md: what the model is, what it was trained and tested on, how well it does,
and what it must not be used for, rendered from templates/model_card.md.j2 with this run's numbers
so it never drifts from them.

The text is deterministic (no dates, fixed rounding): rerunning evaluate on the same model
gives the same bytes, and git shows only real changes.
"""

import math

from jinja2 import Environment, PackageLoader, StrictUndefined
from tabulate import tabulate

from genderface.data.shards import ShardInfo
from genderface.decision import majority_class
from genderface.evaluation.evaluate import Report
from genderface.evaluation.external import External
from genderface.evaluation.groups import GroupScores
from genderface.evaluation.scoring import Evaluation
from genderface.layout import SPLITS

SUMMARY_ROWS = (
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "balanced accuracy (mean of per-class recall)"),
    ("baseline_accuracy", "majority baseline (always the training majority)"),
    ("roc_auc", "ROC-AUC"),
    ("average_precision", "average precision (area under the precision-recall curve)"),
    ("log_loss", "log loss"),
    ("ece", "expected calibration error"),
)
_TEMPLATES = Environment(
    loader=PackageLoader("genderface.evaluation"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # Markdown, not HTML
)


def _markdown(rows: list[list[object]], headers: list[str]) -> str:
    return tabulate(rows, headers, tablefmt="github", floatfmt=".3f", disable_numparse=True)


def _data_table(info: ShardInfo) -> str:
    rows = []
    for split in SPLITS:
        counts = info.counts[split]
        total = sum(counts.values())
        share = counts[info.classes[0]] / total if total else 0.0
        rows.append([split, *(counts[name] for name in info.classes), total, f"{share:.1%}"])
    headers = ["split", *info.classes, "total", f"share of {info.classes[0]}"]
    return _markdown(rows, headers)


def _no_face_table(info: ShardInfo) -> str:
    """Per split, the images in which no face was found (stored whole), by class."""
    rows = [
        [split, *(info.no_face.get(split, {}).get(name, 0) for name in info.classes)]
        for split in SPLITS
    ]
    return _markdown(rows, ["split", *(f"{name}: no face found" for name in info.classes)])


def _sources(data: dict, classes: list[str]) -> dict:
    """Every training source (metrics/data.json's `sources`, in params order): where it came
    from, how it is labelled, its licence, its usable images per class and per split; and which
    sources are synthetic."""
    rows = [
        [
            f"`{name}`",
            f"`{source['resolved']}`" + (" (SYNTHETIC)" if source["synthetic"] else ""),
            source["labels"],
            source["licence"],
            *(source["usable_classes"].get(cls, 0) for cls in classes),
            *(sum(source["splits"][split].values()) for split in SPLITS),
        ]
        for name, source in data["sources"].items()
    ]
    headers = ["source", "from", "labels", "licence", *(f"usable {c}" for c in classes), *SPLITS]
    synthetic = [name for name, source in data["sources"].items() if source["synthetic"]]
    return {"table": _markdown(rows, headers), "synthetic": synthetic}


def _interval(bounds: dict[str, float] | None) -> str:
    return f"{bounds['low']:.3f} - {bounds['high']:.3f}" if bounds else ""


def _scores(evaluation: Evaluation, **extra: object) -> dict:
    scores = evaluation.scores
    rows = [
        [label, f"{scores[key]:.3f}", _interval(scores.get(f"{key}_ci"))]
        for key, label in SUMMARY_ROWS
    ]
    table = _markdown(rows, ["metric", "value", "95% interval (bootstrap)"])
    per_class = [
        [name, *(f"{scores[name][k]:.3f}" for k in ("precision", "recall", "f1")), c["support"]]
        for name in evaluation.classes
        for c in [scores[name]]
    ]
    classes_table = _markdown(per_class, ["class", "precision", "recall", "F1", "images"])
    return {"scores": scores, "table": table, "classes_table": classes_table, **extra}


def _source_scores(sources: dict[str, Evaluation]) -> str:
    """Each source's test images scored alone: the main scores with their bootstrap intervals."""
    rows = [
        [
            f"`{name}`",
            scores["images"],
            *(
                f"{scores[key]:.3f} ({_interval(scores[f'{key}_ci'])})"
                for key in ("accuracy", "balanced_accuracy", "roc_auc")
            ),
            f"{scores['baseline_accuracy']:.3f}",
        ]
        for name, evaluation in sources.items()
        for scores in [evaluation.scores]
    ]
    headers = ["source", "images", "accuracy", "balanced accuracy", "ROC-AUC", "majority baseline"]
    return _markdown(rows, headers)


def _rate(value: float, low: float, high: float) -> str:
    """A proportion and its interval, or a dash where the group has none of the images."""
    return "-" if math.isnan(value) else f"{value:.3f} ({low:.3f} - {high:.3f})"


def _groups(groups: GroupScores, classes: list[str]) -> list[dict]:
    """Per attribute: a table of its groups, how many images had no value for it, and a
    sentence on the largest gaps."""
    sections = []
    for attribute, left_out in groups.left_out.items():
        rows = groups.table[groups.table["attribute"] == attribute]
        table = [
            [
                row["group"],
                row["n"],
                *(
                    _rate(row[score], row[f"{score}_low"], row[f"{score}_high"])
                    for score in ("accuracy", "balanced_accuracy", *(f"{c}_error" for c in classes))
                ),
                f"fewer than {groups.min_group}: not compared" if row["small"] else "",
            ]
            for _, row in rows.iterrows()
        ]
        headers = [attribute, "images", "accuracy", "balanced accuracy"]
        headers += [*(f"{c} error rate" for c in classes), ""]
        gaps = [
            f"{column.replace('_', ' ')} {gap['gap']:.3f} ({gap['max']} against {gap['min']})"
            for column, gap in groups.gaps[attribute].items()
        ]
        sections.append(
            {
                "name": attribute,
                "table": _markdown(table, headers),
                "gaps": gaps,
                "left_out": left_out,
            }
        )
    return sections


def _external(external: External | None) -> dict | None:
    if external is None:
        return None
    groups = external.groups
    classes = external.evaluation.classes
    return _scores(
        external.evaluation,
        folder=external.folder,
        no_face=external.evaluation.scores.get("no_face"),
        groups=_groups(groups, classes) if groups is not None else [],
    )


def _provenance_table(provenance: dict) -> str:
    """What made the model (models/model.json's provenance) as a two-column table."""
    versions = provenance["versions"]
    devices = provenance["devices"]
    rows = [
        *([f"{name} version", versions[name]] for name in sorted(versions)),
        ["devices", f"{devices['count']} x {devices['kind']}"],
        ["CPU kernels", devices["cpu_kernels"]],
        ["recipe (train.recipe)", provenance["recipe"]],
        ["mixed precision (dtype policy)", provenance["mixed_precision"]],
        ["XLA (jit_compile)", "on" if provenance["xla"] else "off"],
        [
            "deterministic (op determinism, pinned kernels)",
            "on" if provenance["deterministic"] else "off",
        ],
    ]
    return _markdown(rows, ["trained with", "value"])


def _bounds(interval: dict[str, float]) -> str:
    return f"{interval['estimate']:.3f} ({_interval(interval)})"


def _export(export: dict | None) -> dict | None:
    """The exported files (metrics/export.json) as a table: size and agreement with Keras."""
    if export is None:
        return None
    parity = export["parity"]
    rows = [
        [
            f"`{export['file']}`",
            f"{export['bytes'] / 1e6:.1f} MB",
            f"within {parity['max_abs_difference_within']:g}",
            f"{parity['labels_changed']}",
            "-",
        ]
    ]
    quantized = export.get("quantized")
    if quantized:
        q = quantized["parity"]
        rows.append(
            [
                f"`{quantized['file']}` ({quantized['quantize']})",
                f"{quantized['bytes'] / 1e6:.1f} MB",
                f"{q['max_abs_difference']:.2g}",
                f"{q['labels_changed']}",
                f"{_bounds(quantized['balanced_accuracy'])} against "
                f"{_bounds(quantized['float_balanced_accuracy'])}",
            ]
        )
    headers = [
        "file",
        "size",
        "largest probability difference",
        "labels changed",
        "balanced accuracy (95% interval) against the float model's",
    ]
    return {**export, "quantized": quantized, "table": _markdown(rows, headers)}


def render(report: Report, data: dict, export: dict | None = None) -> str:
    """The model card as Markdown. `data` is metrics/data.json (what each source was), `export`
    metrics/export.json (the exported files and their check); the report carries what made the
    model (its framing and provenance, from models/model.json)."""
    info = report.info
    train = info.counts["train"]
    total = sum(train.values())
    largest = majority_class(train)
    smallest = next(name for name in info.classes if name != largest)
    return _TEMPLATES.get_template("model_card.md.j2").render(
        classes=info.classes,
        image_size=info.image_size,
        threshold=report.test.threshold,
        sources=_sources(data, info.classes),
        data_table=_data_table(info),
        largest=largest,
        smallest=smallest,
        largest_count=train[largest],
        smallest_count=train[smallest],
        largest_share=train[largest] / total,
        smallest_share=train[smallest] / total,
        test=_scores(report.test),
        source_scores=_source_scores(report.sources),
        test_groups=_groups(report.groups, info.classes),
        external=_external(report.external),
        framing=report.model.framing,
        no_face_table=_no_face_table(info) if info.framing.crops else None,
        provenance=report.model.provenance and _provenance_table(report.model.provenance),
        export=_export(export),
    )
