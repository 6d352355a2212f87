"""The change map's legends say what each panel shows."""

from aerial_landuse.pipelines.change.figures import change_map_figure
from aerial_landuse.pipelines.change.nodes import match_tiles
from tests.pipelines.change.conftest import CLASSES, PARAMS


def _legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_each_panel_has_its_own_legend_and_no_label_twice(years):
    before, _, after, _ = years
    pairs, _, _ = match_tiles(before, after, PARAMS)
    figure = change_map_figure(pairs, CLASSES, "Change")
    change, land_use = figure.axes
    assert not figure.legends  # no shared legend over both panels
    changes = _legend_labels(change)
    assert [f"became {c}" for c in CLASSES] == changes[: len(CLASSES)]
    assert len(changes) == len(set(changes))
    later = _legend_labels(land_use)
    assert later[: len(CLASSES)] == CLASSES  # the later year's land use: no "became Forest"
    assert later[len(CLASSES) :] == ["became Developed"]  # the outline, once
