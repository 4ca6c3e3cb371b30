"""The training report: one self-contained HTML file (report.html, its picture inlined) and the
confusion matrix as confusion.png beside it. The picture needs matplotlib (the optional extra
`plot`); without it the report says so and keeps the numbers."""

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

REPORT, PICTURE = "report.html", "confusion.png"
NO_MATPLOTLIB = "matplotlib is not installed (pip install 'triage[plot]'), so there is no confusion-matrix picture"


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def plot_confusion(metrics: dict, path: Path, title: str) -> None:
    """The confusion matrix (rows: true level, columns: predicted) as a PNG; PlotUnavailable without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable(NO_MATPLOTLIB) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix, levels = metrics["confusion_matrix"], metrics["levels"]
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(levels)), [str(level) for level in levels])
    axes.set_yticks(range(len(levels)), [str(level) for level in levels])
    axes.set_xlabel("predicted level")
    axes.set_ylabel("true level")
    axes.set_title(f"{title}\nmacro-F1 {metrics['macro_f1']:.3f}", fontsize=9)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            axes.text(j, i, str(n), ha="center", va="center", color="white" if n > peak / 2 else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write(folder: Path, meta: dict, summary: dict, comparison: dict | None) -> dict:
    """Write FOLDER/report.html (and FOLDER/confusion.png when matplotlib is there). `meta` is the
    new model's model.json; `summary` the data's rows, levels and languages; `comparison` the active
    model measured on the same held-out rows ({"version", "metrics", "seen"} or {"version", "problem"}),
    or None when no model is active. Returns the paths written and the picture's problem, if any."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = meta["metrics"]
    picture: Path | None = folder / PICTURE
    problem = None
    try:
        plot_confusion(metrics, folder / PICTURE, f"{meta['version']}, held-out rows")
    except PlotUnavailable as exc:
        picture, problem = None, str(exc)
    page = _page(meta, summary, comparison, picture, problem)
    (folder / REPORT).write_text(page, encoding="utf-8")
    return {"report": folder / REPORT, "picture": picture, "problem": problem}


def _e(value) -> str:
    return html.escape(str(value))


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(head: list[str], rows: list[list], numeric_from: int = 1) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i >= numeric_from else ''}>{_e(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _per_level(metrics: dict) -> str:
    return _table(
        ["level", "precision", "recall", "F1", "support"],
        [[level, _f(r["precision"]), _f(r["recall"]), _f(r["f1"]), r["support"]] for level, r in metrics["per_level"].items()],
    )


def _page(meta: dict, summary: dict, comparison: dict | None, picture: Path | None, problem: str | None) -> str:
    metrics = meta["metrics"]
    options = meta.get("options", {})
    parts = [
        f"<h1>Model {_e(meta['version'])}</h1>",
        f"<p>Trained {_e(meta['created_at'][:19])} UTC on {_e(meta['data'])} (sha256 <code>{_e(meta['data_sha256'][:16])}…</code>); "
        f"classifier {_e(options.get('classifier'))}, precedents {_e(options.get('precedent_threshold') or 'none')}, "
        f"candidates compared by {_e(metrics.get('compared_by'))}: "
        + ", ".join(f"{_e(name)} {_f(score)}" for name, score in metrics.get("candidates", {}).items())
        + ".</p>",
    ]
    if meta.get("sample_data"):
        parts.append(
            "<p class=warn>The data are the project's own template tickets (<code>triage model sample</code>): held-out rows "
            "share templates with the training rows, so these metrics say how well the model tells the templates apart, "
            "not how it will do on real cases.</p>"
        )
    parts += [
        "<h2>Data</h2>",
        _table(
            ["rows", "levels", "languages"],
            [[summary["rows"], len(summary["levels"]), len(summary["languages"] or {}) or "-"]],
            0,
        ),
        "<h3>Rows per level</h3>",
        _table(["level", "rows"], [[level, n] for level, n in summary["levels"].items()]),
    ]
    if summary["languages"]:
        parts += [
            "<h3>Rows per language</h3>",
            _table(["language", "rows"], [[code, n] for code, n in summary["languages"].items()]),
        ]
    parts += [
        f"<h2>Held-out metrics ({metrics['rows']} rows the model was not fitted on)</h2>",
        f"<p class=big>macro-F1 <b>{_f(metrics['macro_f1'])}</b> &nbsp; accuracy <b>{_f(metrics['accuracy'])}</b></p>",
        "<h3>Per level</h3>",
        _per_level(metrics),
    ]
    if metrics.get("per_language"):
        parts += [
            "<h3>Per language</h3>",
            _table(
                ["language", "rows", "accuracy", "macro-F1"],
                [[code, r["rows"], _f(r["accuracy"]), _f(r["macro_f1"])] for code, r in metrics["per_language"].items()],
            ),
        ]
    levels = metrics["levels"]
    parts += [
        "<h3>Confusion matrix (rows: true level, columns: predicted)</h3>",
        _table(
            ["true \\ predicted", *map(str, levels)], [[level, *row] for level, row in zip(levels, metrics["confusion_matrix"])]
        ),
    ]
    if picture is not None:
        encoded = base64.b64encode(picture.read_bytes()).decode("ascii")
        parts.append(
            f'<p><img alt="confusion matrix of {_e(meta["version"])}" src="data:image/png;base64,{encoded}"><br>'
            f'<a href="{_e(picture.name)}">{_e(picture.name)}</a></p>'
        )
    else:
        parts.append(f"<p class=warn>{_e(problem)}; the table above has the same numbers.</p>")
    parts.append("<h2>Against the active model, on the same held-out rows</h2>")
    parts.append(_comparison(metrics, comparison))
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .6em}"
        "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
        ".warn{background:#fff3cd;border:1px solid #e0c36a;padding:.5em}.big{font-size:1.2em}"
    )
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>triage model {_e(meta["version"])}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(parts) + f"\n<p><small>written {_e(generated)} by triage model train"
        "</small></p>\n</body></html>\n"
    )


def _comparison(metrics: dict, comparison: dict | None) -> str:
    if comparison is None:
        return "<p>No model is active, so there is nothing to compare with.</p>"
    if comparison.get("problem"):
        return (
            f"<p class=warn>The active model {_e(comparison['version'])} could not be measured: {_e(comparison['problem'])}</p>"
        )
    theirs = comparison["metrics"]
    rows = [
        ["macro-F1", _f(metrics["macro_f1"]), _f(theirs["macro_f1"])],
        ["accuracy", _f(metrics["accuracy"]), _f(theirs["accuracy"])],
        *[
            [
                f"F1 level {level}",
                _f(metrics["per_level"].get(level, {}).get("f1")),
                _f(theirs["per_level"].get(level, {}).get("f1")),
            ]
            for level in sorted(set(metrics["per_level"]) | set(theirs["per_level"]))
        ],
    ]
    parts = [
        f"<p>The active model {_e(comparison['version'])} on the {theirs['rows']} held-out rows the new model was measured on:</p>",
        _table(["", "new model", f"active {comparison['version']}"], rows),
    ]
    seen = comparison.get("seen")
    if seen:
        parts.append(f"<p class=warn>The active model was trained on {seen} of these rows, so its numbers flatter it.</p>")
    elif seen is None:
        parts.append("<p>The active model kept no row hashes, so whether it was trained on these rows cannot be told.</p>")
    return "\n".join(parts)
