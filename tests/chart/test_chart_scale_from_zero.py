"""A worker kind KEDA may scale to zero must not be one the API refuses work for when no worker is alive:
the queued task is what wakes KEDA (the deadlock of a chart that refused uploads at zero ingest workers)."""

from __future__ import annotations

import pytest

from ragline.config import Settings
from tests.chart import chartchecks as cc


def api_refused_queues(docs: list[dict]) -> frozenset[str]:
    """The queues the rendered API container refuses work for while none of their workers is alive."""
    api = cc.workloads(docs)["rag-api"]
    env = {e["name"]: e.get("value") for e in cc.containers(api)[0].get("env", [])}
    return Settings(require_live_worker_queues=env["RAGLINE_REQUIRE_LIVE_WORKER_QUEUES"]).require_live_worker_queues


def queues_at_zero(docs: list[dict]) -> set[str]:
    return {
        cc.celery_queue(cc.containers(target)[0])
        for target in (cc.workloads(docs)[so["spec"]["scaleTargetRef"]["name"]] for so in cc.of_kind(docs, "ScaledObject")
                       if so["spec"].get("minReplicaCount", 1) == 0)
    }


@pytest.mark.parametrize("query_min", [0, 1])
def test_no_queue_that_scales_to_zero_is_refused_for_lack_of_a_worker(helm, query_min: int) -> None:
    docs = helm.render(sets=(f"queryWorker.autoscaling.minReplicas={query_min}",))
    at_zero = queues_at_zero(docs)
    assert "ingest" in at_zero, "the default chart scales the ingest worker to zero"
    assert ("query" in at_zero) == (query_min == 0)
    refused = api_refused_queues(docs)
    assert not refused & at_zero, f"the API refuses {sorted(refused & at_zero)} although KEDA may scale them to zero"
    assert ("query" in refused) == (query_min > 0), "questions fail fast while a query worker should always run"


def test_without_keda_questions_are_refused_when_no_query_worker_runs(helm) -> None:
    assert api_refused_queues(helm.render(sets=("keda.enabled=false",))) == {"query"}
