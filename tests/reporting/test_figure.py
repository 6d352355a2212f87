"""Names with `$` in them are drawn as written: mathtext would garble them or stop the report."""

import io

from aerial_landuse.pipelines.report.figures import confusion_figure


def test_class_names_with_dollar_pairs_are_drawn_as_written():
    labels = ["Forest $^$", "a$b$c", "=SUM(A1)"]
    counts = [[2, 0, 0], [0, 1, 1], [0, 0, 3]]
    metrics = {"confusion_matrix": {"labels": labels, "counts": counts}, "accuracy": 0.86}
    figure = confusion_figure({**metrics, "n_test": 7})
    figure.savefig(io.BytesIO(), format="png")  # "$^$" as mathtext raises ValueError here
    drawn = {t.get_text() for ax in figure.axes for t in ax.get_yticklabels()}
    assert set(labels) <= drawn
