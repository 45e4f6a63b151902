"""Smoke test of the full-scale runner: every configuration, a few steps on the CPU."""
import json

import pytest

torch = pytest.importorskip("torch")
from sparsecoding.nn import full_scale  # noqa: E402


def test_every_configuration_runs_a_few_steps(tmp_path, monkeypatch):
    monkeypatch.setitem(full_scale.CONFIGS["mnist_mlp"], "sc", [0.0, 1e-3])
    monkeypatch.setitem(full_scale.CONFIGS["mnist_cnn"], "n_maps", 2)
    monkeypatch.setitem(full_scale.CONFIGS["mnist_cnn"], "sc", [1e-3])
    monkeypatch.setitem(full_scale.CONFIGS["mnist_conv_ae"], "n_maps", 2)
    for name in ("sae", "explaining_away"):
        monkeypatch.setitem(full_scale.CONFIGS[name], "patch", 8)
        monkeypatch.setitem(full_scale.CONFIGS[name], "n_hidden", 16)
        monkeypatch.setitem(full_scale.CONFIGS[name], "n_gabor", 2)
    monkeypatch.setitem(full_scale.CONFIGS["explaining_away"], "t_star", [0, 1])
    monkeypatch.setitem(full_scale.CONFIGS["sae"], "n_gap", 5)
    sup = full_scale.CONFIGS["superposition"]
    for key, value in (("toy_p", [0.05]), ("lam", [0.1]), ("k", [3]), ("n_test", 100),
                       ("n_phases", 2)):
        monkeypatch.setitem(sup, key, value)
    for key, value in (("depths", [1, 2]), ("n_test", 20), ("n_reference_iter", 10)):
        monkeypatch.setitem(full_scale.CONFIGS["lista"], key, value)
    out = tmp_path / "results.json"
    full_scale.run_all(out, device="cpu", steps=2, n_train=200, seeds=[0])
    results = json.loads(out.read_text())
    assert set(results["experiments"]) == set(full_scale.CONFIGS)
    assert results["shortened"] is True and results["hardware"]["device"] == "cpu"
    assert results["date"]
    mlp = results["experiments"]["mnist_mlp"]["runs"]
    assert [r["lam"] for r in mlp] == [0.0, 100 * 1e-3]  # lambda = batch size x sc
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in mlp)
    ae = results["experiments"]["mnist_conv_ae"]["runs"]
    assert {r["decoder"] for r in ae} == {"transposed", "subpixel"}
    sae = results["experiments"]["sae"]["runs"]
    assert {r["constraint"] for r in sae} == {"none", "unit_norm", "inverse_norm"}
    assert all("amortisation" in r for r in sae if r["lam"] > 0)
    assert all(r["amortisation"]["relative_gap"] >= -1e-6 for r in sae if r["lam"] > 0)
    assert all(r["steps"] == 2 for r in sae)
    sup = results["experiments"]["superposition"]
    assert [r["p"] for r in sup["toy"]] == [0.05]
    assert {(r["kind"], r["setting"]) for r in sup["sae"]} == {("L1", 0.1), ("TopK", 3)}
    assert all(0.0 <= r["mmcs"] <= 1.0 for r in sup["sae"])
    assert [r["resample"] for r in sup["resampling"]] == [False, True]
    lista = results["experiments"]["lista"]
    assert [r["T"] for r in lista["runs"]] == [1, 2]
    assert len(lista["fista_error"]) == 10 and all(r["steps"] == 2 for r in lista["runs"])


def test_every_configuration_has_a_runner():
    assert set(full_scale.RUNNERS) == set(full_scale.CONFIGS)
