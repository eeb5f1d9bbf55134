"""`ganaug evaluate` end to end: a saved run, a folder data set, the default feature classifier."""

import json

import numpy as np
import pytest


@pytest.mark.slow
def test_cli_evaluate_merges_results_into_the_run(tmp_path):
    from data_readers.synthetic import make_blood_cell_dataset
    from ganaug.cli import main
    from ganaug.models import build_cdcgan_generator
    from ganaug.runs import create_run_dir, model_path, write_config

    data = tmp_path / "data"
    make_blood_cell_dataset(data, image_size=16, counts={"lymphocyte": 14, "neutrophil": 14}, verbose=0)
    class_names = ["lymphocyte", "neutrophil"]
    run = create_run_dir(tmp_path / "runs" / "tiny")
    generator = build_cdcgan_generator(num_classes=2, image_size=16, channels=3, latent_dim=8, generator_filters=16, seed=0)
    generator.save(model_path(run, "generator"))
    write_config(run, {
        "family": "cdcgan", "image_size": 16, "channels": 3, "latent_dim": 8, "latent_distribution": "uniform",
        "class_names": class_names, "num_classes": 2, "seed": 0, "data": str(data),
    })
    code = main(["evaluate", "--run", run, "--data", str(data), "--num-samples", "24", "--epochs", "1", "--quiet"])
    assert code == 0
    metrics = json.loads((tmp_path / "runs" / "tiny" / "metrics.json").read_text())
    evaluation = metrics["evaluation"]
    assert evaluation["class_names"] == class_names and evaluation["latent_distribution"] == "uniform"
    assert evaluation["extractor"]["layer_name"] == "input_of_logits"
    assert np.isfinite(evaluation["distribution"]["fid"]) and evaluation["distribution"]["fid_reliable"] is False
    assert [row["train"] + "/" + row["test"] for row in evaluation["tstr"]["rows"]] == [
        "real/real", "real/generated", "generated/generated", "generated/real"
    ]
    assert (tmp_path / "runs" / "tiny" / "evaluation" / "results.json").is_file()
    assert (tmp_path / "runs" / "tiny" / "evaluation" / "tstr_confusion.png").is_file()


def test_cli_evaluate_reports_a_missing_data_folder(tmp_path, capsys):
    from ganaug.cli import main

    assert main(["evaluate", "--run", str(tmp_path), "--data", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
