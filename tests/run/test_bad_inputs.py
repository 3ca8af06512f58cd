"""Bad inputs, as a new user types them: each is refused by the real `riverbed` process
in under 5 s with exit code 4 (bad input) and a named fix, and nothing is left running
or written — no run directory, no Kafka state, no platform state, no report."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HARD_KILL = ROOT / "experiments" / "local" / "kill-consumer-hard.json"
#: The time a refusal may take: the whole process, from start to exit, in CPU time…
REFUSAL_CPU_S = 5.0
#: … and in wall time on an idle machine. On a shared, busy one the wall clock measures
#: the neighbours too: the deadline grows with the load average per core (at most 6×).
REFUSAL_DEADLINE_S = 5.0
BAD_INPUT = 4


def wall_deadline() -> float:
    busy = os.getloadavg()[0] / (os.cpu_count() or 1)
    return REFUSAL_DEADLINE_S * min(6.0, max(1.0, busy))


def _free_port() -> int:
    with socket.socket() as s:  # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _state(tmp_path: Path) -> dict[str, str]:
    """Every place a riverbed process could write to, inside ``tmp_path/state``."""
    base = tmp_path / "state"
    return {
        "RIVERBED_RUNS_DIR": str(base / "runs"),
        "RIVERBED_KAFKA_STATE_DIR": str(base / "kafka"),
        "RIVERBED_LOCAL_STATE_DIR": str(base / "local"),
        "RIVERBED_KAFKA_BASE_PORT": str(_free_port()),
    }


def refuse(
    tmp_path: Path,
    args: list[str],
    expect: str | list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run `riverbed ARGS` as a user would and assert the refusal; returns its output."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    full_env = {**clean, **_state(tmp_path), **(env or {})}
    t0 = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(
        [sys.executable, "-m", "riverbed.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=60,
    )
    took = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    output = " ".join((r.stdout + r.stderr).split())
    assert r.returncode == BAD_INPUT, f"exit {r.returncode}: {output}"
    for text in [expect] if isinstance(expect, str) else expect:
        assert text in output, output
    assert "Traceback" not in output, output
    assert cpu < REFUSAL_CPU_S, f"refused after {cpu:.1f}s of CPU: {output}"
    assert took < wall_deadline(), f"refused after {took:.1f}s: {output}"
    state = tmp_path / "state"
    written = sorted(str(p.relative_to(state)) for p in state.rglob("*")) if state.exists() else []
    assert written == [], f"a refused command wrote {written}"
    return output


def experiment_copy(tmp_path: Path, edit=None, text: str | None = None, name="exp.json") -> Path:
    path = tmp_path / name
    if text is None:
        data = json.loads(HARD_KILL.read_text())
        if edit is not None:
            edit(data)
        text = json.dumps(data, indent=2)
    path.write_text(text)
    return path


# ---- experiments --------------------------------------------------------------------------------


def test_a_missing_experiment(tmp_path):
    refuse(
        tmp_path, ["run", "--experiment", str(tmp_path / "nope.json")], "nope.json does not exist"
    )


def test_a_malformed_experiment_with_a_trailing_comma(tmp_path):
    text = HARD_KILL.read_text().replace('"riverbed",\n', '"riverbed",,\n', 1)
    path = experiment_copy(tmp_path, text=text)
    refuse(tmp_path, ["run", "--experiment", str(path)], ["is not valid JSON", "line 6"])


def test_an_experiment_calling_a_misspelled_function(tmp_path):
    def misspell(data):
        data["method"][0]["provider"]["func"] = "kill_consumerz"

    path = experiment_copy(tmp_path, misspell)
    refuse(tmp_path, ["run", "--experiment", str(path)], ["is not valid", "kill_consumerz"])


def test_an_experiment_for_another_platform(tmp_path):
    kind_experiment = ROOT / "experiments" / "kill-consumer-pod-hard.json"
    refuse(
        tmp_path,
        ["run", "--experiment", str(kind_experiment)],
        ["is written for the kind platform", "experiments/local/"],
    )


def test_a_broken_yaml_experiment(tmp_path):
    path = experiment_copy(tmp_path, text="title: x\nmethod: [\n", name="exp.yaml")
    refuse(tmp_path, ["run", "--experiment", str(path)], "is not valid YAML")


def test_an_experiment_that_is_neither_json_nor_yaml(tmp_path):
    path = experiment_copy(tmp_path, name="exp.txt")
    refuse(tmp_path, ["run", "--experiment", str(path)], "neither JSON nor YAML")


def test_a_run_without_an_experiment_names_both_fixes(tmp_path):
    refuse(tmp_path, ["run"], ["No --experiment", "--no-faults"])
    refuse(
        tmp_path,
        ["run", "--no-faults", "--experiment", str(HARD_KILL)],
        "contradict each other",
    )


# ---- --var and --var-file -------------------------------------------------------------------------


def test_a_var_no_experiment_declares_is_named_with_the_closest(tmp_path):
    refuse(
        tmp_path,
        ["run", "--experiment", str(HARD_KILL), "--var", "kill_name=consumer-1"],
        ["'kill_name'", "did you mean kill_names?"],
    )


def test_a_var_that_is_not_key_value(tmp_path):
    refuse(tmp_path, ["run", "--experiment", str(HARD_KILL), "--var", "kill_names"], "KEY=VALUE")
    refuse(
        tmp_path,
        ["run", "--experiment", str(HARD_KILL), "--var", "kill_count:int=two"],
        "is not an int",
    )


def test_a_missing_or_broken_var_file(tmp_path):
    refuse(
        tmp_path,
        ["run", "--experiment", str(HARD_KILL), "--var-file", str(tmp_path / "none.yaml")],
        "does not exist",
    )
    bad = tmp_path / "vars.yaml"
    bad.write_text("kill_names: consumer-1\n")  # not under `configuration`
    refuse(
        tmp_path,
        ["run", "--experiment", str(HARD_KILL), "--var-file", str(bad)],
        "must be a mapping with `configuration`",
    )


# ---- platforms ----------------------------------------------------------------------------------


def test_an_unknown_platform(tmp_path):
    refuse(tmp_path, ["run", "--platform", "moon", "--experiment", str(HARD_KILL)], "'moon'")


def test_external_without_bootstrap(tmp_path):
    refuse(
        tmp_path,
        ["run", "--platform", "external", "--experiment", str(HARD_KILL)],
        "needs the cluster's bootstrap servers",
    )


def test_external_with_a_misspelled_kafka_config_key(tmp_path):
    refuse(
        tmp_path,
        [
            "run",
            "--platform",
            "external",
            "--kafka-bootstrap",
            f"127.0.0.1:{_free_port()}",
            "--kafka-config",
            "sasl.pasword=x",
            "--experiment",
            str(HARD_KILL),
        ],
        "unknown Kafka client setting 'sasl.pasword'",
    )


def test_external_with_a_broker_fault(tmp_path):
    refuse(
        tmp_path,
        [
            "run",
            "--platform",
            "external",
            "--kafka-bootstrap",
            f"127.0.0.1:{_free_port()}",
            "--experiment",
            str(ROOT / "experiments" / "local" / "kill-broker.json"),
        ],
        "acts on brokers",
    )


def test_external_with_nothing_listening(tmp_path):
    port = _free_port()
    refuse(
        tmp_path,
        [
            "run",
            "--platform",
            "external",
            "--kafka-bootstrap",
            f"127.0.0.1:{port}",
            "--experiment",
            str(HARD_KILL),
        ],
        [f"No Kafka broker answered at 127.0.0.1:{port}", "fix: check --kafka-bootstrap"],
    )


def test_kind_prepare_without_offline(tmp_path):
    refuse(tmp_path, ["kind", "prepare"], "add --offline")


# ---- option values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--duration", "2x"], "--duration '2x' is not a duration"),
        (["--drain-deadline", "soon"], "--drain-deadline 'soon' is not a duration"),
        (["--drain-deadline", "0s"], "--drain-deadline must be longer than 0 s"),
        (["--processing-ms", "bogus"], "--processing-ms: processing time 'bogus' is not valid"),
        (["--duration", "15s"], "leaves no steady window"),
        (["--max-recovery", "soon"], "--max-recovery 'soon' is not a duration"),
        (["--max-lag", "-1"], "--max-lag"),
        (["--group-protocol", "consumer"], "--client confluent-kafka"),
        (["--users", "0"], "--users"),
    ],
)
def test_a_bad_option_value(tmp_path, args, expect):
    refuse(tmp_path, ["run", "--experiment", str(HARD_KILL), *args], expect)


def test_consumer_cmd_with_commit_mode_from_the_command_line_or_the_environment(tmp_path):
    run = ["run", "--consumer-cmd", "python my.py", "--experiment", str(HARD_KILL)]
    refuse(tmp_path, [*run, "--commit-mode", "auto"], "--commit-mode configures")
    for variable in ("RIVERBED_RUN_COMMIT_MODE", "RIVERBED_COMMIT_MODE"):
        refuse(tmp_path, run, "--commit-mode configures", env={variable: "auto"})


def test_consumer_cmd_on_kind_names_consumer_image(tmp_path):
    refuse(
        tmp_path,
        [
            "run",
            "--platform",
            "kind",
            "--consumer-cmd",
            "python my.py",
            "--experiment",
            str(ROOT / "experiments" / "kill-consumer-pod-hard.json"),
        ],
        "--consumer-image IMAGE",
    )


# ---- settings -----------------------------------------------------------------------------------


def test_a_missing_or_broken_config_file(tmp_path):
    refuse(tmp_path, ["--config", str(tmp_path / "none.toml"), "run"], "does not exist")
    broken = tmp_path / "broken.toml"
    broken.write_text('[run]\nduration = "2m"\nusers = \n')
    refuse(tmp_path, ["--config", str(broken), "run"], "is not valid TOML")


def test_a_misspelled_setting_in_the_file_names_the_closest(tmp_path):
    config = tmp_path / "riverbed.toml"
    config.write_text('[run]\ndurration = "2m"\n')
    refuse(
        tmp_path,
        ["--config", str(config), "run", "--experiment", str(HARD_KILL)],
        ["[run] has no setting 'durration'", "did you mean duration?"],
    )
    config.write_text("[rnu]\nduration = 1\n")
    refuse(tmp_path, ["--config", str(config), "run"], ["[rnu] names no riverbed command"])


def test_a_misspelled_variable_of_the_command_names_the_closest(tmp_path):
    refuse(
        tmp_path,
        ["run", "--experiment", str(HARD_KILL)],
        ["RIVERBED_RUN_DURRATION is set", "did you mean RIVERBED_RUN_DURATION?"],
        env={"RIVERBED_RUN_DURRATION": "2m"},
    )


# ---- report and compare -------------------------------------------------------------------------


def _run_dirs(tmp_path: Path) -> dict[str, Path]:
    base = tmp_path / "dirs"
    empty = base / "empty"
    empty.mkdir(parents=True)
    runs = base / "runs"
    (runs / "r1").mkdir(parents=True)
    (runs / "r1" / "spec.json").write_text('{"run_id": "r1"}')
    half = base / "half"
    (half / "evidence").mkdir(parents=True)
    (half / "spec.json").write_text('{"run_id": "half", "platf')
    return {"missing": base / "missing", "empty": empty, "runs": runs, "half": half}


@pytest.mark.parametrize(
    ("which", "expect"),
    [
        ("missing", "does not exist"),
        ("empty", "is not a riverbed run directory"),
        ("runs", "holds run directories (r1)"),
        ("half", "half-written"),
    ],
)
def test_report_refuses_what_is_not_a_run_directory(tmp_path, which, expect):
    dirs = _run_dirs(tmp_path)
    before = sorted(p.name for p in (tmp_path / "dirs").rglob("*"))
    refuse(tmp_path, ["report", str(dirs[which])], [expect, "fix:"])
    assert sorted(p.name for p in (tmp_path / "dirs").rglob("*")) == before  # nothing written


def test_compare_refuses_zero_one_missing_or_non_run_directories(tmp_path):
    dirs = _run_dirs(tmp_path)
    before = sorted(p.name for p in (tmp_path / "dirs").rglob("*"))
    refuse(tmp_path, ["compare"], "Missing argument")
    refuse(tmp_path, ["compare", str(dirs["runs"] / "r1")], "at least two run directories")
    refuse(tmp_path, ["compare", str(dirs["missing"]), str(dirs["empty"])], "does not exist")
    refuse(tmp_path, ["compare", str(dirs["empty"]), str(dirs["runs"])], "not a riverbed run")
    assert sorted(p.name for p in (tmp_path / "dirs").rglob("*")) == before


# ---- campaign -----------------------------------------------------------------------------------


def test_campaign_with_an_unknown_fault_or_no_runs(tmp_path):
    refuse(tmp_path, ["campaign", "--faults", "kill-hard,meteor"], "Unknown fault meteor")
    refuse(tmp_path, ["campaign", "--runs", "0"], "--runs")
    refuse(tmp_path, ["campaign", "--max-recovery", "never"], "is not a duration")


# ---- validate -----------------------------------------------------------------------------------


def test_validate_checks_a_run_without_a_platform(tmp_path):
    """`riverbed validate` accepts what `riverbed run` would start, and refuses the rest."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    yaml_experiment = tmp_path / "kill.yaml"
    import yaml

    yaml_experiment.write_text(yaml.safe_dump(json.loads(HARD_KILL.read_text())))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "riverbed.cli",
            "validate",
            str(yaml_experiment),
            "--var",
            "kill_names=consumer-2",
            "--max-recovery",
            "15s",
        ],
        capture_output=True,
        text=True,
        env={**clean, **_state(tmp_path)},
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "valid: every input checked" in r.stdout and "kill.yaml" in r.stdout
    assert not (tmp_path / "state").exists()
    refuse(tmp_path, ["validate", str(tmp_path / "nope.yaml")], "nope.yaml does not exist")
