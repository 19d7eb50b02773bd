import pytest

from seqgan.config import PRESETS, describe, load_config, preset, to_toml
from seqgan.errors import ConfigError


def test_paper_defaults_are_the_reference_hyperparameters():
    c = preset("paper")
    assert (c.generator.emb_dim, c.generator.hidden_dim, c.generator.lr, c.generator.grad_clip) == (32, 32, 0.01, 5.0)
    assert c.discriminator.num_filters == [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
    assert (c.discriminator.dropout, c.discriminator.l2_reg, c.discriminator.lr) == (0.25, 0.2, 1e-4)
    t = c.train
    assert (t.pretrain_epochs, t.d_pretrain_steps, t.d_pretrain_epochs, t.adversarial_rounds) == (120, 50, 3, 200)
    assert (t.g_steps, t.d_steps, t.d_epochs, t.rollout_num, t.update_rate) == (1, 5, 3, 16, 0.8)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_are_valid_and_round_trip_through_toml(name, tmp_path):
    cfg = preset(name)
    path = tmp_path / "c.toml"
    path.write_text(to_toml(cfg))
    assert load_config(path) == cfg


@pytest.mark.parametrize("assignment, message", [
    ("train.rollout_num=0", "train.rollout_num must be a finite number > 0"),
    ("train.update_rate=1.5", r"update_rate must be in \[0, 1\]"),
    ("discriminator.dropout=1", r"dropout must be in \[0, 1\)"),
    ("generator.lr=-1", "generator.lr must be a finite number > 0"),
    ("train.rolout_num=3", "did you mean 'rollout_num'"),
    ("train.rollout_num=abc", "must be an integer"),
    ("oracle.source=mine", "'paper' or 'random'"),
    ("oracle.source='paper'", "oracle.source=random"),  # tiny has vocab 50
    ("discriminator.num_filters=[1, 2, 3]", "same length"),
    ("nosection.x=1", "unknown config section"),
    ("rollout_num", "key=value"),
    ("train.advantage='avg'", "train.advantage must be one of none, mean, rescale, normalize, importance"),
    ("train.pg_baseline='mean'", "renamed 'train.advantage'"),
    ("train.ss_k=0.5", "renamed 'ss.k'"),
    ("train.method='gan'", "train.method must be one of seqgan, mle, ss, pg_bleu, random, maligan, dpgan"),
    ("ss.k=0.5", r"ss.k must be >= 1 for the inverse-sigmoid"),
    ("ss.k=5000", "ss.k is a setting of method 'ss', but train.method is 'seqgan'"),
    ("ss.schedule='cosine'", "'linear', 'exponential' or 'inverse_sigmoid'"),
    ("maligan.rewards='all'", "maligan.rewards must be 'rollout' or 'sequence'"),
    ("maligan.mixed_every=0", "maligan.mixed_every must be a finite number > 0"),
    ("dpgan.discount=2", r"dpgan.discount must be in \[0, 1\]"),
    ("runtime.tf32=2", "runtime.tf32"),
])
def test_bad_values_are_rejected_with_a_fix(assignment, message):
    with pytest.raises(ConfigError, match=message):
        preset("tiny").override([assignment])


def test_overrides_parse_toml_values():
    cfg = preset("tiny").override(["train.rollout_num=8", "discriminator.filter_sizes=[2, 4]",
                                   "discriminator.num_filters=[3, 3]", "generator.lr=1e-3", "seed=7"])
    assert cfg.train.rollout_num == 8 and cfg.discriminator.filter_sizes == [2, 4]
    assert cfg.generator.lr == 0.001 and cfg.seed == 7
    assert preset("tiny").override(["runtime.tf32=true"]).runtime.tf32 is True


def test_config_file_with_preset_base_and_unknown_key(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('preset = "tiny"\nseed = 3\n[train]\nrollout_num = 2\n')
    cfg = load_config(good)
    assert cfg.seed == 3 and cfg.train.rollout_num == 2 and cfg.oracle.source == "random"
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nadversarial_round = 3\n")
    with pytest.raises(ConfigError, match="did you mean 'adversarial_rounds'"):
        load_config(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match="did you mean 'small'"):
        preset("smal")


def _all_sections():
    from seqgan.config import _SECTIONS
    from seqgan.methods import METHODS

    return [*_SECTIONS.items(), *((name, cls.config) for name, cls in METHODS.items() if cls.config is not None)]


def test_every_setting_has_a_docstring_and_help_config_prints_it():
    from seqgan.config import field_docs

    text = describe()
    for section, cls in _all_sections():
        docs = field_docs(cls)
        for name in cls.__dataclass_fields__:
            assert docs.get(name, "").strip(), f"{section}.{name} has no docstring under it"
            assert f"{section}.{name} =" in text, f"--help-config does not list {section}.{name}"
            assert docs[name].split()[0] in text.split(f"{section}.{name} =")[1][:600]
    assert "Monte Carlo rollouts per prefix" in text
    for method in ("seqgan", "mle", "ss", "pg_bleu", "random", "maligan", "dpgan"):
        assert f"\n  {method} " in text  # the list of methods with their titles


def test_docstring_check_fails_for_an_undocumented_field():
    from dataclasses import dataclass

    from seqgan.config import field_docs

    @dataclass
    class Half:
        documented: int = 1
        """A docstring."""
        bare: int = 2

    assert field_docs(Half) == {"documented": "A docstring."}


def test_a_method_section_is_only_accepted_for_its_method(tmp_path):
    cfg = preset("tiny").override(["train.method='maligan'", "maligan.mixed_start=3"])
    assert cfg.method.mixed_start == 3 and cfg.methods["dpgan"].lr == 0.01
    with pytest.raises(ConfigError, match="maligan.mixed_start is a setting of method 'maligan'.*train.method='maligan'"):
        preset("tiny").override(["maligan.mixed_start=3"])
    path = tmp_path / "c.toml"
    path.write_text('preset = "tiny"\n[dpgan]\nlr = 0.1\n')
    with pytest.raises(ConfigError, match="dpgan.lr is a setting of method 'dpgan'"):
        load_config(path)
    # the run folder's config.toml holds only the selected method's section, and reads back equal
    assert "[maligan]" in to_toml(cfg) and "[dpgan]" not in to_toml(cfg) and "[ss]" not in to_toml(cfg)
    path.write_text(to_toml(cfg))
    assert load_config(path) == cfg


def test_a_config_file_of_seqgan_0_1_is_read_with_its_settings_moved(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('preset = "tiny"\n[train]\nmethod = "ss"\nss_k = 500.0\npg_bleu_n = 3\npg_baseline = "mean"\n')
    cfg = load_config(path)
    assert cfg.train.method == "ss" and cfg.method.k == 500.0 and cfg.train.advantage == "mean"
    assert cfg.methods["pg_bleu"].n == 4  # another method's old shared default is dropped
