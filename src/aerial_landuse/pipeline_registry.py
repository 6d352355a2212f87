"""Project pipelines."""

from __future__ import annotations

from kedro.pipeline import Pipeline

from aerial_landuse.pipelines import (
    change,
    compare,
    demo_data,
    evaluate,
    featurize,
    finetune,
    ingest,
    pretrained,
    report,
    score,
    train,
)

MAIN_JOB = {
    "ingest": ingest,
    "featurize": featurize,
    "train": train,
    "evaluate": evaluate,
    "score": score,
    "report": report,
}


def _stage(name: str, pipeline: Pipeline) -> Pipeline:
    """The stage as a namespace (one collapsible box in kedro-viz, nodes named ``<stage>.<node>``);
    dataset and parameter names stay as the catalog has them."""
    return Pipeline(pipeline, namespace=name, prefix_datasets_with_namespace=False)


def register_pipelines() -> dict[str, Pipeline]:
    """ingest, featurize, train, evaluate, score, report, plus pretrained, finetune and demo_data.

    ``__default__`` runs the six in order. ``score`` runs end to end for the tiles to score:
    list them, featurize them (each read once) and apply the model named by ``model_name`` (or ``best``,
    the top MLflow run by ``select_by``). ``finetune`` (after ``ingest``) trains
    ``<network>_finetuned`` for ``pretrained_model=<network>_finetuned``. ``compare`` writes the leaderboard of the run history; ``change`` compares two
    scored regions (``before``, ``after``).
    (Registered explicitly: find_pipelines loads only the pipelines named on the command line.)
    """
    pipelines = {name: _stage(name, module.create_pipeline()) for name, module in MAIN_JOB.items()}
    pipelines["__default__"] = sum(pipelines.values(), Pipeline([]))
    pipelines["score"] = (
        pipelines["ingest"].only_nodes_with_tags("score")
        + pipelines["featurize"].only_nodes_with_tags("score")
        + Pipeline(pipelines["score"], inputs={"trained_model": "scoring_model"})
    )
    pipelines["change"] = _stage("change", change.create_pipeline())
    pipelines["compare"] = _stage("compare", compare.create_pipeline())
    pipelines["pretrained"] = _stage("pretrained", pretrained.create_pipeline())
    pipelines["finetune"] = _stage("finetune", finetune.create_pipeline())
    pipelines["demo_data"] = _stage("demo_data", demo_data.create_pipeline())
    return pipelines
