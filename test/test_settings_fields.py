"""The settings helper the job and the deploy share: fields in groups, coercion by type, files by table, masking."""

from dataclasses import dataclass

import pytest

from app.settings import Settings
from app.settings_fields import SettingsError, build, from_environ, group, masked_repr, merged, setting, unknown, walk


@dataclass(frozen=True)
class Inner:
    count: int = setting("COUNT", 1)
    ratio: float = setting("RATIO", 0.5)
    on: bool = setting("ON", False)
    names: tuple[str, ...] = setting("NAMES", ())
    token: str = setting("TOKEN", "", secret=True)

    __repr__ = masked_repr


@dataclass(frozen=True)
class Outer:
    name: str = setting("NAME", "x")
    inner: Inner = group(Inner)

    __repr__ = masked_repr


def test_env_strings_become_the_fields_types_in_their_group():
    env = {"NAME": "n", "COUNT": "3", "RATIO": "0.25", "ON": "yes", "NAMES": " a, ,b ", "TOKEN": "t0ken"}
    built = build(Outer, from_environ(Outer, env))
    assert built == Outer("n", Inner(3, 0.25, True, ("a", "b"), "t0ken"))
    assert "t0ken" not in repr(built) and "inner.token='***'" in repr(built)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COUNT": "three"}, "setting COUNT='three': expected int"),
        ({"RATIO": "nan"}, "setting RATIO='nan': expected a finite number"),
        ({"ON": "maybe"}, "setting ON='maybe': expected true or false"),
    ],
)
def test_a_bad_string_names_its_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        build(Outer, from_environ(Outer, env))


def test_a_blank_variable_is_unset_only_when_asked():
    assert from_environ(Outer, {"NAME": ""}) == {"name": ""}
    assert from_environ(Outer, {"NAME": ""}, blank_is_unset=True) == {}


def test_layers_merge_key_by_key_and_typos_are_named_with_their_table():
    assert merged({"inner": {"count": 1, "on": True}}, {"inner": {"count": 2}}) == {"inner": {"count": 2, "on": True}}
    assert unknown(Outer, {"name": "n", "inner": {"cuont": 1}, "extra": 2, "inner2": {}}) == [
        "inner.cuont",
        "extra",
        "inner2",
    ]
    assert unknown(Outer, {"inner": 5}) == ["inner"]  # a group is a table, never a value


def test_every_app_setting_has_one_variable_and_the_file_table_of_its_group(tmp_path):
    envs = [f.metadata["env"] for _, f in walk(Settings)]
    assert len(envs) == len(set(envs))
    (tmp_path / "development.toml").write_text("[kafka]\ninput_topik = 'x'\n")
    with pytest.raises(SettingsError, match=r"kafka\.input_topik"):
        Settings.load({}, config_dir=tmp_path)
