"""The reports' text stays what it was: `report.md` of the demo (four shapes of report: shapes and faces, quick and
full) and of a data set (hostile names, examples, figures, skipped files; and the unlabelled shape) are compared
byte for byte with files written by 0.2.0's string-concatenating writers, before the reports moved to
`report.render` and its Jinja2 templates. A template's whitespace is easy to change by accident; these files catch it.

    python -m pytest tests/test_report_text.py
"""
import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

TEXT = Path(__file__).parent / "report_text"

SHAPES = {'data': 'shapes',
          'seed': 0,
          'quick': True,
          'n_mixed_test': 200,
          'n_pure_test': 200,
          'n_explained': 100,
          'ablation_mode': 'mean',
          'pointing_game': 1.0,
          'pointing_game_pure_model': 1.0,
          'pointing_energy': 0.6311,
          'seconds': 55.9,
          'settings': {'size': 32, 'classes': ['disk', 'square'], 'n_key_train': 1000, 'n_pure_train': 1000},
          'environment': {'cpu_count': 2, 'load_average_start': 4.93},
          'key_model': {'accuracy_mixed': 0.895,
                        'accuracy_mixed_conflict': 0.9,
                        'accuracy_pure': 0.905,
                        'n_conflict': 50,
                        'importance_mean': [0.6182, 0.2005, 0.1813],
                        'importance_mean_pure': [0.6154, 0.1956, 0.189],
                        'top1_is_channel1': 1.0,
                        'train_seconds': 14.39,
                        'epochs': 6},
          'pure_model': {'accuracy_mixed': 0.6,
                         'accuracy_mixed_conflict': 0.52,
                         'accuracy_pure': 0.995,
                         'n_conflict': 50,
                         'importance_mean': [0.3438, 0.369, 0.2873],
                         'importance_mean_pure': [0.3334, 0.3773, 0.2894],
                         'top1_is_channel1': 0.34,
                         'train_seconds': 20.83,
                         'epochs': 6},
          'ablation': {'mean': {'top1_agreement': 0.66,
                                'spearman_mean': 0.245,
                                'top1_is_channel1': 0.66,
                                'drop_mean': [1.3785, 0.0172, -0.0359],
                                'draws': 1},
                       'zero': {'top1_agreement': 0.59,
                                'spearman_mean': 0.16,
                                'top1_is_channel1': 0.59,
                                'drop_mean': [1.4238, 0.1458, 0.2584],
                                'draws': 1},
                       'shuffle': {'top1_agreement': 0.82,
                                   'spearman_mean': 0.525,
                                   'top1_is_channel1': 0.82,
                                   'drop_mean': [1.4007, 0.0192, 0.0319],
                                   'draws': 8}},
          'targets': {'key_accuracy_mixed': {'value': 0.895, 'target': '>= 0.95', 'met': False},
                      'key_accuracy_pure': {'value': 0.905, 'target': '>= 0.9', 'met': True},
                      'key_channel1_importance': {'value': 0.6182, 'target': '>= 0.6', 'met': True},
                      'channel1_importance_gap': {'value': 0.2744, 'target': '>= 0.2', 'met': True},
                      'pure_importance_min': {'value': 0.2873, 'target': '>= 0.2', 'met': True},
                      'pure_importance_max': {'value': 0.369, 'target': '<= 0.5', 'met': True},
                      'ablation_top1_agreement': {'value': 0.66, 'target': '>= 0.95', 'met': False},
                      'pointing_game': {'value': 1.0, 'target': '>= 0.9', 'met': True}},
          'faithfulness_key_model': {'channelgradcam_sum': {'average_drop': 0.3325,
                                                            'increase_in_confidence': 0.3125,
                                                            'deletion_auc': 0.5436,
                                                            'insertion_auc': 0.82},
                                     'random_map': {'average_drop': 0.3976,
                                                    'increase_in_confidence': 0.1875,
                                                    'deletion_auc': 0.5837,
                                                    'insertion_auc': 0.6635}},
          'figures': ['inputs.png', 'channel_cams_key_model.png', 'channel_cams_pure_model.png', 'importance.png']}  # a quick shapes run's report.json, cut down to what report.md shows


def demo_reports() -> dict:
    "The demo's four shapes of report: shapes/faces (faces: no pointing game, a photo split), quick/full."
    faces = copy.deepcopy(SHAPES)
    faces.update(data="faces", sources=dict(train=120, val=40, test=40))
    for k in ("pointing_game", "pointing_energy", "pointing_game_pure_model"): faces.pop(k)
    return dict(shapes_quick=SHAPES, shapes_full={**SHAPES, "quick": False}, faces_quick=faces,
                faces_full={**faces, "quick": False})


def dataset_result(labelled=True):
    "A DatasetExplanation built by hand: names with Markdown and HTML in them, examples, figures, a skipped file."
    from channelgradcam.report import DatasetExplanation
    classes, channels = ["<img src=x onerror=alert(1)>", "a|b_*c*"], ["[G](http:e.vil)", "ch 2"]
    imp = np.array([0.9, 0.8, 0.3, 0.2])
    table = pd.DataFrame({"path": ["d/x.png", "d/y.png", "d/z.png", "d/w.png"],
                          "label": [classes[0], classes[0], classes[1], classes[1]] if labelled else [""] * 4,
                          "predicted": [classes[0], classes[0], classes[1], classes[0]], "probability": 0.9, "target": "",
                          f"importance_{channels[0]}": imp, f"importance_{channels[1]}": 1 - imp, "degenerate": False})
    summary = pd.DataFrame([[c, ch, 2, m, m - 0.1, m + 0.1, t] for c, (m0, t0) in zip(classes + ["(all)"], [(0.85, 1.0), (0.25, 0.0), (0.55, 0.5)])
                            for ch, m, t in ((channels[0], m0, t0), (channels[1], 1 - m0, 1 - t0))],
                           columns=["class", "channel", "n", "mean", "ci_low", "ci_high", "top_share"])
    ablation = pd.DataFrame([[c, ch, b, 2, 0.5, d, 0.5, d / 2] for c in classes + ["(all)"] for b in ("mean", "zero")
                             for ch, d in ((channels[0], 0.0 if b == "mean" else 0.5), (channels[1], 0.25))],
                            columns=["class", "channel", "baseline", "n", "accuracy", "accuracy_drop", "probability", "probability_drop"])
    confusion = pd.DataFrame([[2, 0], [1, 1]], index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))
    png = b"not a png"
    examples = [dict(**{"class": c}, path=p, probability=0.9, index=i, file=f"examples/{i} {Path(p).name}", png=png)
                for i, (c, p) in enumerate([(classes[0], "d/x.png"), (classes[1], "d/[z](e).png")])]
    figures = [dict(path="d/x.png", file="figures/0 x.png", png=png)]
    info = dict(model="m_<b>", values="divided by 255 (scale)", dtypes=["uint8"], targets=None, dataset_mean=[0.5, 0.25],
                mean_images=4, seconds=2.0, devices=["CPU:0"], notes=["A note with *stars*."])
    if not labelled: ablation, confusion, examples, figures = None, None, [], []
    return DatasetExplanation(table, summary, ablation, confusion, classes, channels, info, examples=examples,
                              figures=figures, skipped=[("d/bad.png", "not an image")])


@pytest.mark.parametrize("name", ["shapes_quick", "shapes_full", "faces_quick", "faces_full"])
def test_demo_report_md_unchanged(name):
    from channelgradcam.demo_report import demo_markdown
    assert demo_markdown(demo_reports()[name]) == (TEXT / f"demo_{name}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("labelled", [True, False])
def test_dataset_report_md_unchanged(labelled):
    md = dataset_result(labelled).report_markdown()
    assert md == (TEXT / f"dataset_{'labelled' if labelled else 'unlabelled'}.md").read_text(encoding="utf-8")
