"""The configuration file beside the environment: its keys fill the settings the environment
leaves unset, a bad file is refused naming the key (exit 2 from the command, no traceback),
every setting is documented, and ``facegate --version`` prints the version."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from stress.common import facegate_command

from facegate import __version__
from facegate.errors import BadInput
from facegate.service import Settings, config_file

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "configuration.md"
EXAMPLE = REPO / "examples" / "facegate.toml"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_fills_what_the_environment_leaves(tmp_path: Path) -> None:
    toml = write(tmp_path / "facegate.toml", """
data = "/srv/facegate"
database_url = "postgresql+psycopg://facegate@db/facegate"
rule_pack = "cn-2025"
threshold = 0.42
fmr = 1e-4
engine_config = "/etc/facegate/model.yaml"
timezone = "Asia/Urumqi"
public_url = "https://faces.example.com"
index = "ivf"
milvus_uri = "http://milvus:19530"
milvus_token = "t0ken"
""")
    s = Settings.from_env(environ={"FACEGATE_CONFIG": str(toml)})
    assert (s.data_dir, s.database_url, s.rule_pack) == (
        Path("/srv/facegate"), "postgresql+psycopg://facegate@db/facegate", "cn-2025")
    assert (s.threshold, s.fmr_target, s.engine_config) == (
        0.42, 1e-4, Path("/etc/facegate/model.yaml"))
    assert (s.timezone, s.public_url, s.index_backend) == (
        "Asia/Urumqi", "https://faces.example.com", "ivf")
    assert (s.milvus_uri, s.milvus_token) == ("http://milvus:19530", "t0ken")
    # A variable that is set wins; an empty one does not count as set.
    s = Settings.from_env(environ={"FACEGATE_CONFIG": str(toml), "FACEGATE_INDEX": "exact",
                                   "FACEGATE_DATA": "/elsewhere", "FACEGATE_FMR": ""})
    assert (s.index_backend, s.data_dir, s.fmr_target) == ("exact", Path("/elsewhere"), 1e-4)
    assert s.rule_pack == "cn-2025"
    # Without a file, the defaults.
    s = Settings.from_env(environ={})
    assert (s.index_backend, s.timezone, s.threshold) == ("exact", "Asia/Shanghai", None)


@pytest.mark.parametrize("text, words", [
    ('datadir = "/srv"\n', ["unknown setting 'datadir'", "data"]),
    ("fmr = \"low\"\n", ["'fmr' must be a number", "str"]),
    ("data = 7\n", ["'data' must be a string", "int"]),
    ("threshold = true\n", ["'threshold' must be a number", "bool"]),
    ("data = [\n", ["not valid TOML"]),
])
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str,
                                              words: list[str]) -> None:
    toml = write(tmp_path / "bad.toml", text)
    with pytest.raises(BadInput) as e:
        Settings.from_env(environ={"FACEGATE_CONFIG": str(toml)})
    for word in words:
        assert word in e.value.message
    assert str(toml) in e.value.message


def test_a_bad_value_in_the_file_is_refused_like_the_variable(tmp_path: Path) -> None:
    toml = write(tmp_path / "f.toml", 'index = "faiss"\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(BadInput, match="FACEGATE_TIMEZONE 'Mars/Olympus'"):
        Settings.from_env(environ={"FACEGATE_CONFIG": str(toml)})
    with pytest.raises(BadInput, match=r"FACEGATE_INDEX must be one of .*'faiss'"):
        Settings.from_env(environ={"FACEGATE_CONFIG": str(toml), "FACEGATE_TIMEZONE": "UTC"})


# ---- the command -----------------------------------------------------------------------------

def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEGATE_")}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    return env


def facegate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*facegate_command(), *args], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_command_reads_the_file_and_the_environment_wins(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    toml = write(tmp_path / "facegate.toml",
                 f'data = "{tmp_path / "from-file"}"\nkey_file = "{keys / "master.key"}"\n'
                 f'signing_key_file = "{keys / "signing.key"}"\n')
    env = clean_env(tmp_path)
    done = facegate(env, "--json", "--config", str(toml), "init")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data_dir"] == str(tmp_path / "from-file")
    assert (tmp_path / "from-file" / "facegate.db").is_file()
    assert (keys / "master.key").is_file() and (keys / "signing.key").is_file()
    assert not (tmp_path / "xdg" / "facegate").exists()  # not the default place
    # FACEGATE_CONFIG names the file just as well; a variable that is set wins over it.
    done = facegate({**env, "FACEGATE_CONFIG": str(toml),
                     "FACEGATE_DATA": str(tmp_path / "from-env")}, "--json", "init")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data_dir"] == str(tmp_path / "from-env")
    assert (tmp_path / "from-env" / "facegate.db").is_file()


@pytest.mark.parametrize("text, words", [
    ('data = "/srv"\nlog_colour = "red"\n', ["unknown setting 'log_colour'"]),
    ("fmr = \"0.001\"\n", ["'fmr' must be a number"]),
])
def test_the_command_refuses_a_bad_file_with_exit_2(tmp_path: Path, text: str,
                                                    words: list[str]) -> None:
    toml = write(tmp_path / "bad.toml", text)
    env = clean_env(tmp_path)
    for args in (["--config", str(toml), "deployment", "list"],
                 ["--json", "--config", str(toml), "init"]):
        done = facegate(env, *args)
        assert done.returncode == 2, (done.stdout, done.stderr)
        out = done.stdout + done.stderr
        assert "Traceback" not in out
        for word in words:
            assert word in out
    done = facegate(env, "--config", str(tmp_path / "missing.toml"), "deployment", "list")
    assert done.returncode == 2 and "cannot read the configuration file" in done.stderr


def test_version() -> None:
    done = subprocess.run([*facegate_command(), "--version"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0 and done.stdout.strip() == __version__


@pytest.mark.parametrize("args, words", [
    (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
    (["--tls-key", "key.pem"], "--tls-cert and --tls-key go together"),
    (["--tls-cert", "nope.pem", "--tls-key", "nope.key"], "--tls-cert nope.pem: no such file"),
])
def test_serve_wants_both_tls_files(tmp_path: Path, args: list[str], words: str) -> None:
    done = facegate(clean_env(tmp_path), "serve", "--port", "1", *args)
    assert done.returncode == 2 and words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_an_unknown_log_format(tmp_path: Path) -> None:
    done = facegate({**clean_env(tmp_path), "FACEGATE_LOG_FORMAT": "xml"}, "serve")
    assert done.returncode == 2 and "FACEGATE_LOG_FORMAT" in done.stderr


# ---- the documentation -----------------------------------------------------------------------

def test_every_setting_is_documented() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for f in dataclasses.fields(Settings):
        assert f"`{f.name}`" in doc, f"Settings.{f.name} is not in {DOC.name}"
    rows = {m[0]: m[1] for m in re.findall(r"^\| `([a-z_]+)` \| `(FACEGATE_[A-Z_]+)` \|",
                                           doc, re.M)}
    assert rows == {k: config_file.env_name(k) for k in config_file.KEYS}
    used = set(re.findall(r"FACEGATE_[A-Z_]+", " ".join(
        p.read_text(encoding="utf-8") for p in (REPO / "src" / "facegate").rglob("*.py"))))
    assert {v for v in used if not v.endswith("_")} <= set(rows.values()) | {
        "FACEGATE_CONFIG"}, "a variable the code reads is missing from the table"
    assert "PROMETHEUS_MULTIPROC_DIR" in doc


def test_the_example_file_is_valid() -> None:
    read = config_file.read(EXAMPLE)
    assert read["FACEGATE_DATA"] == "/srv/facegate" and read["FACEGATE_INDEX"] == "exact"
    s = Settings.from_env(environ={"FACEGATE_CONFIG": str(EXAMPLE)})
    assert s.public_url.startswith("https://")
