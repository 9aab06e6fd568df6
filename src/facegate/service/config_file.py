"""The configuration file (TOML) beside the environment variables.

``FACEGATE_CONFIG=/etc/facegate/facegate.toml`` (or ``facegate --config FILE``) names it. Its
keys are the environment variables' names without the ``FACEGATE_`` prefix, in lower case
(``data``, ``database_url``, ``index``, ``public_url``, ...), at the top level of the file; an
environment variable that is set (and not empty) wins over the file. An unknown key, a value of
the wrong type or a file that is not TOML is a ``BadInput`` naming the file and the key.
``docs/configuration.md`` lists every setting."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from facegate.errors import BadInput

CONFIG_ENV = "FACEGATE_CONFIG"
PREFIX = "FACEGATE_"
NUMBER = (int, float)
# Every key of the file and the type of its value (strings unless said otherwise).
KEYS: dict[str, type | tuple[type, ...]] = {
    "data": str,
    "database_url": str,
    "rule_pack": str,
    "threshold": NUMBER,
    "fmr": NUMBER,
    "engine": str,
    "engine_config": str,
    "timezone": str,
    "public_url": str,
    "index": str,
    "milvus_uri": str,
    "milvus_token": str,
    "key_file": str,
    "master_key": str,
    "signing_key_file": str,
    "checkpoint_dir": str,
    "log_format": str,
    "log_level": str,
}


def env_name(key: str) -> str:
    """The environment variable of a file key (``data`` -> ``FACEGATE_DATA``)."""
    return PREFIX + key.upper()


def _type_name(kind: type | tuple[type, ...]) -> str:
    return "a number" if kind == NUMBER else "a string"


def read(path: str | Path) -> dict[str, str]:
    """The settings of the file at ``path`` as environment values (``FACEGATE_...`` names,
    string values), checked: every key known, every value of its type."""
    where = Path(path).expanduser()
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except OSError as e:
        raise BadInput(f"cannot read the configuration file {where}: "
                       f"{e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise BadInput(f"the configuration file {where} is not valid TOML: {e}") from None
    out: dict[str, str] = {}
    for key, value in raw.items():
        kind = KEYS.get(key)
        if kind is None:
            raise BadInput(f"{where}: unknown setting {key!r}; known settings: "
                           + ", ".join(sorted(KEYS)))
        if isinstance(value, bool) or not isinstance(value, kind):
            raise BadInput(f"{where}: setting {key!r} must be {_type_name(kind)}, not "
                           f"{type(value).__name__} {value!r}")
        out[env_name(key)] = str(value)
    return out


def layered(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment with the file's settings beneath it: a variable that is set and not
    empty wins; the file fills the rest. Without ``FACEGATE_CONFIG`` the environment alone."""
    env = dict(os.environ if environ is None else environ)
    path = env.get(CONFIG_ENV)
    if not path:
        return env
    merged = read(path)
    merged.update({k: v for k, v in env.items() if v})
    return merged


def apply(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put the file's settings into the environment where a variable is unset or empty, so
    every part of facegate (and every worker process it starts) sees them; returns the
    variables set."""
    env = os.environ if environ is None else environ
    path = env.get(CONFIG_ENV)
    if not path:
        return {}
    added = {k: v for k, v in read(path).items() if not env.get(k)}
    env.update(added)
    return added
