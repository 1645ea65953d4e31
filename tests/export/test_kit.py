"""``python -m export kit`` (issue 12): the offline install kit, its refusals, and installing it as a device would.

The fast tests build the parts from small real inputs (wheels made here, a kit folder without wheels,
the shipped bundle). The slow ones build one real kit per module (x86_64 and aarch64, this Python) from the package
registry, install its x86_64 half with its own ``install.sh`` into a fresh prefix, resolve its
aarch64 half with pip, build refused ones, and download another Python's wheels (3.10, when this
machine has it) for one small package.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("packaging")

import runtime  # noqa: E402
from export._cli import main  # noqa: E402
from export._errors import ExportError  # noqa: E402
from export._kit.archive import MEMBER_MTIME, safe_member_name, write_archive  # noqa: E402
from export._kit.build import _stage_bundle  # noqa: E402
from export._kit.closure import missing_requirements, read_wheels  # noqa: E402
from export._kit.download import collect_wheels, refusal  # noqa: E402
from export._kit.install_script import install_script  # noqa: E402
from export._kit.project import PROJECT_ROOT, read_project  # noqa: E402
from export._kit.targets import Target, parse_targets  # noqa: E402
from runtime._contract import ExitCode  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
PYPROJECT_EXTRAS = read_project().extras
KIT_EXTRAS = [extra for extra in ("serve", "connect", "verify") if extra in PYPROJECT_EXTRAS]


def _runnable_python(version: str) -> str | None:
    """A ``python<version>`` that runs: on PATH, or an installation beside this one (pyenv's versions/)."""
    candidates = [shutil.which(f"python{version}")]
    candidates += [str(p) for p in sorted(Path(sys.base_prefix).parent.glob(f"{version}.*/bin/python{version}"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys, venv; print(sys.version_info[:2])"], capture_output=True)
        if probe.returncode == 0:
            return candidate
    return None


OTHER_PYTHON = "3.10" if THIS_PYTHON != "3.10" else "3.12"
# any network access from pip fails fast: the install must need none
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": ""}


# ---------------------------------------------------------------- targets, extras, pip's refusals


@pytest.mark.parametrize(
    ("platforms", "pythons", "message"),
    [
        (
            ["linux_sparc"],
            ["3.11"],
            "--platform 'linux_sparc' is not known: use one of linux_x86_64, linux_aarch64, linux_armv7l, linux_ppc64le, linux_s390x",
        ),
        (["linux_x86_64"], ["3"], "--python '3' is not a CPython version such as 3.11 (3.MINOR)"),
        (["linux_x86_64"], ["2.7"], "--python '2.7' is not a CPython version such as 3.11 (3.MINOR)"),
        (["linux_x86_64"], ["3.11\n"], "--python '3.11\\n' is not a CPython version such as 3.11 (3.MINOR)"),
        ([], ["3.11"], "a kit needs at least one --platform and one --python"),
    ],
)
def test_unknown_platforms_and_pythons_are_refused(platforms, pythons, message):
    with pytest.raises(ExportError) as caught:
        parse_targets(platforms, pythons)
    assert str(caught.value) == message


def test_each_platform_maps_to_every_manylinux_tag_a_glibc_2_28_device_takes():
    targets = parse_targets(["linux_x86_64", "linux_aarch64", "linux_x86_64"], ["3.11", "3.12"])
    assert [t.name for t in targets] == [
        "linux_x86_64-cp311",
        "linux_x86_64-cp312",
        "linux_aarch64-cp311",
        "linux_aarch64-cp312",
    ]
    tags = targets[2].pip_platforms
    # onnxruntime: manylinux_2_28; numpy: manylinux_2_27.manylinux_2_28; protobuf and cffi: manylinux2014
    assert {
        "manylinux_2_28_aarch64",
        "manylinux_2_27_aarch64",
        "manylinux_2_17_aarch64",
        "manylinux2014_aarch64",
    } <= set(tags)
    assert not any(tag.startswith(("manylinux_2_29", "manylinux_2_3")) for tag in tags)  # newer glibc than promised
    options = targets[2].pip_options()
    assert options[:7] == [
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        "3.11",
        "--abi",
        "cp311",
    ]


def test_every_extra_of_pyproject_is_accepted_and_others_refused():
    project = read_project()
    assert {"serve", "verify", "export"} <= set(PYPROJECT_EXTRAS)
    assert project.check_extras(list(PYPROJECT_EXTRAS)) == tuple(PYPROJECT_EXTRAS)
    assert project.check_extras(["serve", "serve"]) == ("serve",)
    with pytest.raises(ExportError) as caught:
        project.check_extras(["serve", "mqtt", "gpu"])
    assert str(caught.value) == (
        f"--extras mqtt, gpu: not an extra of factory-edge; pyproject.toml defines {', '.join(sorted(PYPROJECT_EXTRAS))}"
    )
    assert project.requirement(["serve", "verify"]) == f"factory-edge[serve,verify]=={project.version}"


def test_the_cli_refuses_an_unknown_extra_before_downloading_anything(shipped_bundle, tmp_path, capsys):
    output = tmp_path / "kit.tar.gz"
    argv = ["kit", str(shipped_bundle), "--platform", "linux_x86_64", "--python", "3.11", "--extras", "serve,gpu"]
    assert main([*argv, "--output", str(output)]) == ExitCode.USAGE
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: --extras gpu: not an extra of factory-edge; pyproject.toml defines ")
    assert not output.exists() and list(tmp_path.iterdir()) == []


# the stderr of real pip 23.2 runs (--only-binary=:all:, the target's tags), the line the kit says for it
PIP_REFUSALS = [
    (
        "ERROR: Could not find a version that satisfies the requirement numpy<3,>=1.26 (from factory-edge[serve,verify]) (from versions: none)\n"
        "ERROR: No matching distribution found for numpy<3,>=1.26\n",
        Target("linux_armv7l", "3.11"),
        "numpy<3,>=1.26 has no wheel for linux_armv7l / CPython 3.11 (needed by factory-edge[serve,verify]): no version of it has one",
    ),
    (
        "ERROR: Could not find a version that satisfies the requirement onnxruntime<1.33,>=1.23.2 (from factory-edge) (from versions: 1.7.0, 1.8.0, 1.19.2)\n"
        "ERROR: No matching distribution found for onnxruntime<1.33,>=1.23.2\n",
        Target("linux_aarch64", "3.9"),
        "onnxruntime<1.33,>=1.23.2 has no wheel for linux_aarch64 / CPython 3.9 (needed by factory-edge): the versions that have one (1.7.0 ... 1.19.2) are outside the pin",
    ),
    (
        "ERROR: Package 'factory-edge' requires a different Python: 3.9.0 not in '>=3.10'\n",
        Target("linux_x86_64", "3.9"),
        "factory-edge does not support linux_x86_64 / CPython 3.9: it requires Python >=3.10",
    ),
    (
        "WARNING: Retrying ...\nERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n",
        Target("linux_x86_64", "3.11"),
        "pip download for linux_x86_64 / CPython 3.11 failed: Could not install packages due to an OSError: [Errno 28] No space left on device",
    ),
]


@pytest.mark.parametrize(("stderr", "target", "message"), PIP_REFUSALS)
def test_pips_refusal_names_the_package_the_platform_and_the_python(stderr, target, message):
    assert refusal(stderr, target) == message


# ---------------------------------------------------------------- requirements judged for the target


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> None:
    """A real (tiny) wheel file whose METADATA declares ``requires``."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"] + [
        f"Requires-Dist: {r}" for r in requires
    ]
    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("python", "root", "missing"),
    [
        ("3.10", "app==1.0", ["backport>=1.2", "tomli"]),  # what pip on 3.11 skips for a 3.10 device
        ("3.11", "app==1.0", []),
        ("3.11", "app[server]==1.0", ["web>=2"]),
        ("3.10", "app[server]==1.0", ["backport>=1.2", "tomli", "web>=2"]),
    ],
)
def test_markers_are_judged_for_the_target_not_the_machine_building_the_kit(tmp_path, python, root, missing):
    _wheel(tmp_path, "app", "1.0", ['backport>=1.2; python_version < "3.11"', "core", 'web>=2; extra == "server"'])
    _wheel(tmp_path, "core", "3.0", ['tomli; python_version < "3.11"', 'pywin; sys_platform == "win32"'])
    _wheel(tmp_path, "web", "1.5", [])  # present, but outside web>=2
    assert missing_requirements(tmp_path, root, Target("linux_aarch64", python)) == missing


def test_a_machine_marker_is_judged_for_the_targets_machine(tmp_path):
    _wheel(tmp_path, "app", "1.0", ['armhelper; platform_machine == "aarch64"'])
    assert missing_requirements(tmp_path, "app", Target("linux_aarch64", "3.11")) == ["armhelper"]
    assert missing_requirements(tmp_path, "app", Target("linux_x86_64", "3.11")) == []


# ---------------------------------------------------------------- the archive


def test_members_are_sorted_relative_regular_files_with_fixed_metadata(tmp_path):
    (tmp_path / "src" / "b").mkdir(parents=True)
    (tmp_path / "src" / "b" / "z.txt").write_text("z")
    (tmp_path / "src" / "a.sh").write_text("#!/bin/sh\n")
    (tmp_path / "src" / "a.sh").chmod(0o755)
    files = [("b/z.txt", tmp_path / "src" / "b" / "z.txt"), ("a.sh", tmp_path / "src" / "a.sh")]
    write_archive(tmp_path / "one.tar.gz", "kit", files)
    write_archive(tmp_path / "two.tar.gz", "kit", list(reversed(files)))
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()  # deterministic
    with tarfile.open(tmp_path / "one.tar.gz") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["kit/a.sh", "kit/b/z.txt"]
    assert all(m.isreg() and m.uid == m.gid == 0 and m.mtime == MEMBER_MTIME for m in members)
    assert [m.mode for m in members] == [0o755, 0o644]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial file left


@pytest.mark.parametrize("relative", ["../escape", "/etc/passwd", "a/../../b", "a//b", "./a", "a\\b"])
def test_a_member_name_that_could_leave_the_folder_is_refused(relative):
    with pytest.raises(ExportError, match="cannot be a kit member"):
        safe_member_name("kit", relative)


def test_a_link_is_never_packed(tmp_path):
    (tmp_path / "secret").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    with pytest.raises(OSError):
        write_archive(tmp_path / "kit.tar.gz", "kit", [("link", tmp_path / "link")])
    assert not (tmp_path / "kit.tar.gz").exists()


def test_the_bundle_goes_in_with_its_signature_and_current(shipped_bundle, tmp_path):
    from export._sign import keygen, sign_bundle

    folder = tmp_path / "quality" / "1.0.0"
    shutil.copytree(shipped_bundle / "1.0.0", folder)
    private, _ = keygen(tmp_path / "keys")
    sign_bundle(folder, private)
    assert _stage_bundle(folder, "quality", "1.0.0", tmp_path / "stage") is True
    staged = tmp_path / "stage" / "models" / "quality"
    assert sorted(p.name for p in (staged / "1.0.0").iterdir()) == sorted(p.name for p in folder.iterdir())
    assert (staged / "1.0.0" / "model.sig").read_bytes() == (folder / "model.sig").read_bytes()
    assert (staged / "CURRENT").read_text() == "1.0.0\n"


# ---------------------------------------------------------------- install.sh, on a kit without wheels


def _tiny_kit(folder: Path) -> Path:
    """A kit folder with install.sh, a README and its SHA256SUMS, but no wheels: enough to test the checks."""
    folder.mkdir()
    (folder / "install.sh").write_text(install_script("factory-edge==0.1.0", "quality", "1.0.0"))
    (folder / "install.sh").chmod(0o755)
    (folder / "README.md").write_text("kit\n")
    subprocess.run("sha256sum install.sh README.md > SHA256SUMS", shell=True, cwd=folder, check=True)
    return folder


def _install(kit: Path, prefix: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **OFFLINE, **environment}
    return subprocess.run([str(kit / "install.sh"), str(prefix)], capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda kit: (kit / "README.md").write_text("changed\n"),
            "install.sh: SHA256SUMS does not match: the kit is damaged or was changed; copy it again",
        ),
        (
            lambda kit: (kit / "evil-1.0-py3-none-any.whl").write_text("x"),
            "install.sh: files not listed in SHA256SUMS: evil-1.0-py3-none-any.whl; remove them or copy the kit anew",
        ),
        (
            lambda kit: None,
            f"install.sh: this kit has no wheels for linux_{os.uname().machine} / CPython {THIS_PYTHON}",
        ),
    ],
)
def test_install_sh_refuses_a_changed_kit_and_a_machine_it_has_no_wheels_for(tmp_path, damage, message):
    kit = _tiny_kit(tmp_path / "kit")
    (kit / "wheels").mkdir()
    damage(kit)
    done = _install(kit, tmp_path / "prefix", PYTHON=sys.executable)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(message), done.stderr
    assert not (tmp_path / "prefix").exists()  # refused before anything was created


def test_install_sh_says_so_when_its_python_does_not_run(tmp_path):
    kit = _tiny_kit(tmp_path / "kit")
    done = _install(kit, tmp_path / "prefix", PYTHON="false")
    assert done.returncode == 1
    assert (
        done.stderr.strip().splitlines()[-1]
        == "install.sh: false does not run (see above): set PYTHON=/path/to/python3"
    )


def test_install_sh_is_valid_bash_and_quotes_what_it_is_given():
    script = install_script("factory-edge[serve]==0.1.0", "quality", "1.0.0")
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert "REQUIREMENT='factory-edge[serve]==0.1.0'" in script
    with pytest.raises(ValueError):
        install_script("x'; rm -rf /; '", "quality", "1.0.0")


# ---------------------------------------------------------------- slow: a real kit from the registry


def _kit_command(bundle: Path, output: Path, platforms: list[str], pythons: list[str], extras: list[str]) -> list[str]:
    argv = ["kit", str(bundle), "--output", str(output)]
    argv += [f"--platform={p}" for p in platforms] + [f"--python={p}" for p in pythons]
    return argv + (["--extras", ",".join(extras)] if extras else [])


@pytest.fixture(scope="module")
def kit(shipped_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One kit for x86_64 and aarch64 on this Python, built and unpacked once."""
    folder = tmp_path_factory.mktemp("kit")
    output = folder / "kit.tar.gz"
    pythons = [THIS_PYTHON]
    argv = _kit_command(shipped_bundle, output, ["linux_x86_64", "linux_aarch64"], pythons, KIT_EXTRAS)
    code = main(argv)
    if code != ExitCode.OK:
        pytest.fail(f"python -m export {' '.join(argv)} exited {code}")
    with tarfile.open(output) as archive:
        members = archive.getmembers()
        archive.extractall(folder / "unpacked", filter="data")
    top = members[0].name.split("/")[0]
    return {"archive": output, "members": members, "root": folder / "unpacked" / top, "pythons": pythons}


@pytest.mark.slow
def test_the_kit_holds_files_only_summed_and_the_runtime_wheel_holds_runtime_only(kit):
    names = [m.name for m in kit["members"]]
    assert names == sorted(names) and all(m.isreg() for m in kit["members"])
    assert len({name.split("/")[0] for name in names}) == 1 and not any(n.startswith("/") or ".." in n for n in names)
    root = kit["root"]
    summed = sorted(line[66:] for line in (root / "SHA256SUMS").read_text().splitlines())
    assert summed == sorted(name.split("/", 1)[1] for name in names if not name.endswith("/SHA256SUMS"))
    assert subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=root).returncode == 0
    folders = sorted(p.name for p in (root / "wheels").iterdir())
    assert folders == sorted(t.name for t in parse_targets(["linux_x86_64", "linux_aarch64"], kit["pythons"]))
    for folder in folders:
        (wheel,) = (root / "wheels" / folder).glob("factory_edge-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            packages = {name.split("/")[0] for name in archive.namelist()}
        assert packages == {"runtime", f"{wheel.name.split('-')[0]}-{read_project().version}.dist-info"}
    assert (root / "models" / "quality" / "CURRENT").read_text() == "1.0.0\n"
    readme = (root / "README.md").read_text()
    assert "./install.sh /opt/factory-edge" in readme and "linux_aarch64" in readme


def _example_csv(bundle: Path, path: Path) -> dict[str, Any]:
    record = json.loads((bundle / "1.0.0" / "example_input.json").read_text())
    rows = [record, {**record, "temperature": 260.0, "machine_type": "C"}, {**record, "vibration": 7.5}]
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(record))
        writer.writeheader()
        writer.writerows(rows)
    return {"rows": rows}


def _install_and_predict(kit: dict[str, Any], python: str, shipped_bundle: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    done = _install(kit["root"], prefix, PYTHON=sys.executable, PIP_INDEX_URL="http://127.0.0.1:9/simple")
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"installed factory-edge[{','.join(KIT_EXTRAS)}]" in done.stdout
    device = prefix / "venv" / "bin" / "python"
    version = subprocess.run(
        [str(device), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
    )
    assert version.stdout.strip() == python
    info = subprocess.run(
        [str(device), "-m", "runtime", "info", str(prefix / "models" / "quality")], capture_output=True, text=True
    )
    assert info.returncode == 0 and "28 golden cases reproduced" in info.stdout, info.stderr
    example = _example_csv(shipped_bundle, tmp_path / "parts.csv")
    command = [str(device), "-m", "runtime", "predict", str(prefix / "models" / "quality")]
    predict = subprocess.run(
        [*command, "--input", str(tmp_path / "parts.csv"), "--output", str(tmp_path / "out.csv")],
        capture_output=True,
        text=True,
    )
    assert predict.returncode == 0, predict.stderr
    with open(tmp_path / "out.csv", newline="") as stream:
        labels = [row["label"] for row in csv.DictReader(stream)]
    expected = runtime.load(shipped_bundle).predict_batch(example["rows"]).labels
    assert labels == [str(label) for label in expected]
    # the device got the runtime and its dependencies, never the export side
    freeze = subprocess.run([str(device), "-m", "pip", "freeze"], capture_output=True, text=True).stdout.lower()
    assert "onnxruntime==" in freeze and "scikit-learn" not in freeze and "skl2onnx" not in freeze
    exported = subprocess.run([str(device), "-c", "import export"], capture_output=True, text=True, cwd=tmp_path)
    assert exported.returncode != 0 and "ModuleNotFoundError" in exported.stderr


@pytest.mark.slow
def test_install_sh_installs_the_x86_64_half_offline_and_info_and_predict_work(kit, shipped_bundle, tmp_path):
    _install_and_predict(kit, THIS_PYTHON, shipped_bundle, tmp_path)
    # a second run is safe: same venv, same bundle, CURRENT unchanged
    again = _install(kit["root"], tmp_path / "prefix", PYTHON=sys.executable)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_wheels_for_another_python_include_what_only_it_needs_and_install_on_it(tmp_path):
    """pip on this Python judges ``exceptiongroup; python_version < "3.11"`` (anyio's) by itself, not the target:
    the rounds add it, and a real Python 3.10 installs anyio from the folder alone and imports it."""
    interpreter = _runnable_python(OTHER_PYTHON)
    if interpreter is None:
        pytest.skip(f"needs a python{OTHER_PYTHON} on this machine")
    target = Target("linux_x86_64", OTHER_PYTHON)
    folder = tmp_path / "wheels"
    names = collect_wheels(["anyio>=4"], "anyio>=4", target, folder)
    assert missing_requirements(folder, "anyio>=4", target) == []
    if OTHER_PYTHON == "3.10":
        assert "exceptiongroup" in read_wheels(folder) and any(n.startswith("exceptiongroup-") for n in names)
    subprocess.run([interpreter, "-m", "venv", str(tmp_path / "venv")], check=True, capture_output=True)
    device = str(tmp_path / "venv" / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull, **OFFLINE}
    install = [device, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(folder), "anyio>=4"]
    done = subprocess.run(install, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    imported = subprocess.run([device, "-c", "import anyio"], capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr


@pytest.mark.slow
def test_the_aarch64_half_resolves_everything_with_no_index(kit, tmp_path):
    target = Target("linux_aarch64", THIS_PYTHON)
    wheels = kit["root"] / "wheels" / target.name
    requirement = read_project().requirement(KIT_EXTRAS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull, **OFFLINE}
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--ignore-installed", "--quiet"]
    command += [
        "--target",
        str(tmp_path / "target"),
        "--find-links",
        str(wheels),
        "--report",
        str(tmp_path / "report.json"),
    ]
    done = subprocess.run([*command, *target.pip_options(), requirement], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    chosen = {
        Path(item["download_info"]["url"]).name
        for item in json.loads((tmp_path / "report.json").read_text())["install"]
    }
    assert chosen <= {p.name for p in wheels.glob("*.whl")}
    assert any(name.startswith("onnxruntime-") and name.endswith("_aarch64.whl") for name in chosen)
    assert any(name.startswith("numpy-") and "_aarch64" in name for name in chosen)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("platform", "python", "message"),
    [
        (
            "linux_armv7l",
            THIS_PYTHON,
            f"error: no kit for linux_armv7l / CPython {THIS_PYTHON}: numpy<3,>=1.26 has no wheel for linux_armv7l / CPython {THIS_PYTHON} (needed by factory-edge",
        ),
        (
            "linux_x86_64",
            "3.9",
            "error: no kit for linux_x86_64 / CPython 3.9: onnxruntime<1.33,>=1.23.2 has no wheel for linux_x86_64 / CPython 3.9 (needed by factory-edge",
        ),
    ],
)
def test_a_platform_or_python_without_wheels_is_refused_before_any_archive(
    shipped_bundle, tmp_path, capsys, platform, python, message
):
    output = tmp_path / "kit.tar.gz"
    assert main(_kit_command(shipped_bundle, output, ["linux_x86_64", platform], [python], [])) == ExitCode.USAGE
    error = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]
    assert len(error) == 1 and error[0].startswith(message), error
    assert not output.exists() and list(tmp_path.iterdir()) == []


def test_the_project_root_is_this_checkout():
    assert PROJECT_ROOT == ROOT
