"""The sweep runner and the results page on a tiny backbone and a synthetic dataset."""

from __future__ import annotations

import json

import pytest

from pgfnet.model.config import PGFNetConfig
from pgfnet.model.tiny import TINY_DEFAULTS
from pgfnet.training.report import render
from pgfnet.training.sweep import load_plan, read_results, run_plan


@pytest.fixture
def plan_path(tmp_path):
    base = PGFNetConfig(**dict(TINY_DEFAULTS, backbone="tiny-random-bert-seed0", epochs=1,
                               batch_size=8, checkpoint_every_steps=100))
    base.save(tmp_path / "base.json")
    plan = {
        "base_config": str(tmp_path / "base.json"),
        "results": str(tmp_path / "results.jsonl"),
        "runs_dir": str(tmp_path / "runs"),
        "entries": [
            {"name": "pgfnet", "label": "PGF-Net (default)", "overrides": {}, "seeds": [0, 1]},
            {"name": "text_only", "label": "text-only", "overrides": {"fusion_layers": []},
             "seeds": [0, 1]},
            {"name": "no_gate", "label": "no gate", "overrides": {"use_gate": False},
             "seeds": [0], "priority": 1},
        ],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def test_plan_orders_main_runs_first(plan_path):
    runs = load_plan(plan_path).runs

    assert [run.key for run in runs] == [
        ("pgfnet", 0), ("text_only", 0), ("pgfnet", 1), ("text_only", 1), ("no_gate", 0),
    ]
    assert runs[1].config.fusion_layers == []
    assert runs[2].config.seed == 1


def test_plan_rejects_unknown_override(tmp_path, plan_path):
    plan = json.loads(plan_path.read_text())
    plan["entries"][0]["overrides"] = {"fusion_layer": [1]}
    plan_path.write_text(json.dumps(plan))

    with pytest.raises(ValueError, match="fusion_layer"):
        load_plan(plan_path)


def test_sweep_records_and_skips_done_runs(tmp_path, plan_path, synthetic_data_path):
    assert run_plan(plan_path, data_path=synthetic_data_path, max_runs=3) == 3
    records = read_results(tmp_path / "results.jsonl")
    assert [(r["name"], r["seed"]) for r in records] == [("pgfnet", 0), ("text_only", 0), ("pgfnet", 1)]
    assert records[0]["metrics"]["split"] == "test"
    assert records[1]["trainable_parameters"] < records[0]["trainable_parameters"]

    assert run_plan(plan_path, data_path=synthetic_data_path, only=["pgfnet"]) == 0
    assert len(read_results(tmp_path / "results.jsonl")) == 3


def test_report_lists_missing_runs(tmp_path, plan_path, synthetic_data_path):
    run_plan(plan_path, data_path=synthetic_data_path, max_runs=2)
    page = render(plan_path)

    assert "| PGF-Net (default) | 1/2 |" in page
    assert "| text-only | 1/2 |" in page
    assert "PGF-Net (default) (`pgfnet`): seeds [1]" in page
    assert "no gate (`no_gate`): seeds [0]" in page
    assert "provisional" in page


def test_results_reader_skips_cut_line(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('{"name": "a", "seed": 0}\n{"name": "b", "se')

    assert read_results(path) == [{"name": "a", "seed": 0}]


def test_report_tuning_section_shows_valid_metrics_only(tmp_path, plan_path):
    tuning = {
        "base_config": json.loads(plan_path.read_text())["base_config"],
        "results": str(tmp_path / "tuning.jsonl"),
        "runs_dir": str(tmp_path / "tuning_runs"),
        "entries": [
            {"name": "slow", "label": "slow fusion", "overrides": {"lr_fusion": 1e-4}, "seeds": [0, 1]},
            {"name": "wide", "label": "wide gate", "overrides": {"gate_bias_init": 5.0}, "seeds": [0, 1]},
            {"name": "cut", "label": "cut early", "overrides": {"fusion_dim": 16}, "seeds": [0]},
        ],
    }
    (tmp_path / "tuning.json").write_text(json.dumps(tuning))
    plan = json.loads(plan_path.read_text())
    plan["tuning"] = str(tmp_path / "tuning.json")
    plan_path.write_text(json.dumps(plan))
    # The test MAE 0.111111 must never reach the page.
    records = [
        {"name": "slow", "seed": 0, "best_epoch": 4, "metrics": {"MAE": 0.111111},
         "valid_metrics": {"MAE": 0.8, "Non0_F1_score": 0.8}},
        {"name": "slow", "seed": 1, "best_epoch": 5, "metrics": {"MAE": 0.111111},
         "valid_metrics": {"MAE": 0.9, "Non0_F1_score": 0.8}},
        {"name": "wide", "seed": 0, "best_epoch": 2, "metrics": {"MAE": 0.111111},
         "valid_metrics": {"MAE": 0.7, "Non0_F1_score": 0.8}},
        {"name": "cut", "seed": 0, "best_epoch": 2, "metrics": {"MAE": 0.111111},
         "valid_metrics": {"MAE": 0.6, "Non0_F1_score": 0.8}},
    ]
    (tmp_path / "tuning.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    page = render(plan_path)
    section = page[page.index("## Tuning on the validation split"):page.index("## Ablations")]

    assert "0.1111" not in page
    assert "| slow fusion | `lr_fusion: 0.0001` | 2/2 | 0.8000, 0.9000 | 0.8500 | 80.0 | 4, 5 |" in section
    assert "| cut early | `fusion_dim: 16` | 1/1 | 0.6000 | 0.6000 | 80.0 | 2 |" in section
    assert "stopped after fewer seeds" in section
    assert "still missing seeds" in section
    assert "Lowest mean valid MAE" not in section

    # Once "wide" finishes it wins; "cut" has the lowest MAE but ran fewer seeds.
    records.append({"name": "wide", "seed": 1, "best_epoch": 3, "metrics": {"MAE": 0.111111},
                    "valid_metrics": {"MAE": 0.8, "Non0_F1_score": 0.8}})
    (tmp_path / "tuning.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    page = render(plan_path)

    assert "Lowest mean valid MAE among the candidates with 2 seeds: wide gate (0.7500)." in page
    assert "still missing seeds" not in page


def test_report_states_shipped_seed_choice(tmp_path, monkeypatch):
    from pgfnet import paths
    from pgfnet.training.report import _shipped_choice

    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"seed": 1}))
    monkeypatch.setattr(paths, "DEFAULT_CHECKPOINT", checkpoint)
    records = [
        {"seed": 0, "metrics": {"MAE": 0.80}, "valid_metrics": {"MAE": 0.82}},
        {"seed": 1, "metrics": {"MAE": 0.85}, "valid_metrics": {"MAE": 0.79}},
        {"seed": 2, "metrics": {"MAE": 0.95}, "valid_metrics": {"MAE": 0.81}},
    ]

    text = " ".join(_shipped_choice({"pgfnet": {"records": records}}, tmp_path / "none"))

    assert "seed 1, the seed with the lowest valid MAE of the default's runs" in text
    assert "number 2 of 3 counted from the lowest" in text
    assert "looks better than the config's mean (0.8667)" in text

    # With the integrated-gradients check recorded, seed 1 fails it and seed 2 is the pick.
    (tmp_path / "diagnostics" / "seeds").mkdir(parents=True)
    for seed, count in ((0, 0), (1, 3), (2, 0)):
        (tmp_path / "diagnostics" / "seeds" / f"ig-seed{seed}-valid.json").write_text(
            json.dumps({"violations": count}))
    (checkpoint / "config.json").write_text(json.dumps({"seed": 2}))
    text = " ".join(_shipped_choice({"pgfnet": {"records": records}}, tmp_path / "diagnostics"))

    assert "seed 1 (3 violations) broke the bound" in text
    assert ("seed 2, the seed with the lowest valid MAE among the default's runs whose "
            "integrated gradients meet the completeness bound") in text
    assert "the highest of the 3 seeds" in text


def test_report_gates_forced_table(tmp_path):
    from pgfnet.training.report import _gates_forced_per_seed

    (tmp_path / "seeds").mkdir()
    records = [{"seed": seed, "metrics": {"MAE": 0.8 + seed / 100}, "valid_metrics": {"MAE": 0.7}}
               for seed in (0, 1)]
    for seed in (0, 1):
        for split, value in (("valid", 0.75), ("test", 0.9)):
            (tmp_path / "seeds" / f"gate1-seed{seed}-{split}.json").write_text(json.dumps({"MAE": value}))

    lines = _gates_forced_per_seed({"pgfnet": {"records": records}}, tmp_path)

    assert "| 0 | 0.7000 | 0.7500 | 0.8000 | 0.9000 |" in lines
    assert "| 1 | 0.7000 | 0.7500 | 0.8100 | 0.9000 |" in lines
    assert "| mean over 2 | 0.7000 | 0.7500 | 0.8050 | 0.9000 |" in lines
    assert any(line.startswith("Forcing the gates to 1 raises the mean test MAE by +0.0950")
               for line in lines)
    assert _gates_forced_per_seed({"pgfnet": {"records": records}}, tmp_path / "none") == []


def test_report_reads_ablations_against_same_seeds():
    from pgfnet.training.report import _ablation_reading

    def group(label, maes, priority=1):
        records = [{"seed": seed, "metrics": {"MAE": mae}} for seed, mae in enumerate(maes)]
        return {"label": label, "records": records, "done": list(range(len(maes))),
                "priority": priority}

    summary = {
        "pgfnet": group("default", [0.80, 0.81, 0.79, 0.50, 0.50], priority=0),
        "flat": group("flat", [0.81, 0.80, 0.80]),
        "broken": group("broken", [0.90, 0.91, 0.92]),
    }

    lines = _ablation_reading(summary, ["flat", "broken"])

    # The default's seeds 3 and 4 are left out, so its mean is 0.800.
    assert "- flat: test MAE 0.803 against 0.800 (+0.003), within the seed-to-seed spread." in lines
    assert "- broken: test MAE 0.910 against 0.800 (+0.110), worse than the default beyond the spread." in lines
