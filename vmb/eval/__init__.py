"""Evaluation: FD/FAD on several embedders, KL on AudioSet classes, CLAP score, cut/beat
alignment, controllability, and reports (``vmb eval``).

Stage: imports media, analysis, retrieve (encoders), pipeline (for ``eval run`` only).
"""

from vmb.eval.api import METRICS, evaluate, parse_metrics
from vmb.eval.fd import FDResult, fd_of_rows, fd_with_uncertainty, frechet_distance
from vmb.eval.items import EvalItem, ItemSet, collect_items, pair_items
from vmb.eval.kl import kl_divergence
from vmb.eval.report import EvalReport, MetricResult, write_report

__all__ = [
    "METRICS",
    "EvalItem",
    "EvalReport",
    "FDResult",
    "ItemSet",
    "MetricResult",
    "collect_items",
    "evaluate",
    "fd_of_rows",
    "fd_with_uncertainty",
    "frechet_distance",
    "kl_divergence",
    "pair_items",
    "parse_metrics",
    "write_report",
]
