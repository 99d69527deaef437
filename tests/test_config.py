from __future__ import annotations

from pathlib import Path

import pytest

from scanner.config import load_config
from scanner.errors import InputError

ROOT = Path(__file__).parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scan.yaml"
    path.write_text(text)
    return path


def test_sample_config_loads_with_paths_relative_to_it() -> None:
    cfg = load_config(ROOT / "sample_configs" / "scan-lab.yaml")
    assert cfg.targets == ["198.51.100.0/24"]
    assert cfg.timing.template == 4 and cfg.timing.probe_timeout == 3.0
    assert cfg.policy and cfg.policy.endswith("sample_configs/policies/eu-gdpr-baseline.yaml")
    assert Path(cfg.policy).is_file()


@pytest.mark.parametrize(("text", "line", "message"), [
    ("targets: [198.51.100.0/24]\ntargest: []\n", 2, "unknown key 'targest' in config"),
    ("timing:\n  template: fast\n", 2, "config.timing.template must be an integer, not a string"),
    ("timing:\n  template: 9\n", 2, "config.timing.template must be 0..5"),
    ("offline: 'no'\n", 1, "config.offline must be true or false, not a string"),
    ("ports: 80,http\n", 1, "is not a port list"),
    ("fail_on: severe\n", 1, "config.fail_on must be one of"),
    ("outputs:\n  - format: pdf\n", 2, "config.outputs.format must be one of"),
    ("- just\n- a list\n", 1, "a scan config must be a YAML mapping"),
])
def test_config_mistakes_point_at_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert message in str(err.value)
