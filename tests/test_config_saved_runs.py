"""A run directory's config.yaml written before a key moved still loads (resume, show,
compare read it with ``load_run_config``), while a hand-written file gets the "moved" error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from thetaevolve.config import ConfigError, RunConfig, load_config, load_run_config


def _old_style_dump(path: Path) -> None:
    # What dump_config wrote before the offline mutator got its own section: the full tree,
    # with the mutator's knobs in llm.* and the donor count in database.*.
    tree = RunConfig().model_dump(mode="json")
    offline = tree["llm"].pop("offline")
    tree["llm"]["mutation_scale"] = 0.37
    tree["llm"]["crossover_rate"] = 0.61
    tree["database"]["num_inspirations"] = 3
    assert set(offline) == {"mutation_scale", "crossover_rate", "crossover_donors"}
    path.write_text(yaml.safe_dump(tree, sort_keys=False))


def test_a_saved_run_config_from_before_the_move_loads_with_its_values(tmp_path: Path) -> None:
    saved = tmp_path / "config.yaml"
    _old_style_dump(saved)
    config = load_run_config(saved)
    assert config.llm.offline.mutation_scale == pytest.approx(0.37)
    assert config.llm.offline.crossover_rate == pytest.approx(0.61)
    assert config.llm.offline.crossover_donors == 3


def test_a_saved_run_config_still_takes_overrides(tmp_path: Path) -> None:
    saved = tmp_path / "config.yaml"
    _old_style_dump(saved)
    config = load_run_config(saved, overrides=["budget=7"])
    assert config.budget == 7 and config.llm.offline.crossover_donors == 3


def test_a_hand_written_file_with_an_old_key_is_told_where_it_moved(tmp_path: Path) -> None:
    saved = tmp_path / "config.yaml"
    _old_style_dump(saved)
    with pytest.raises(ConfigError, match=r"llm.mutation_scale: this setting moved to "
                                          r"llm.offline.mutation_scale"):
        load_config(saved)


def test_a_run_made_before_the_move_shows_and_resumes(tmp_path: Path, capsys) -> None:
    from helpers import fast_run_flags

    from thetaevolve.cli import main

    run_dir = tmp_path / "run"
    assert main(["run", "circle_packing_26", "--run-dir", str(run_dir), "--budget", "8",
                 *fast_run_flags(batch_size=2, seed=3)]) == 0
    # Rewrite its config.yaml the way the earlier version wrote it.
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    offline = saved["llm"].pop("offline")
    saved["llm"]["mutation_scale"] = offline["mutation_scale"]
    saved["llm"]["crossover_rate"] = offline["crossover_rate"]
    saved["database"]["num_inspirations"] = offline["crossover_donors"]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    capsys.readouterr()

    assert main(["show", str(run_dir), "--json"]) == 0
    assert main(["resume", str(run_dir), "--budget", "16", "--quiet"]) == 0
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["budget"] == 16
