"""The docs and the commands agree: every command and option is documented, the docs name no option
that does not exist, and the tutorial's and the README's commands run.

What counts as documented: an option is documented when a hand-written page of ``docs/`` names it
(``--tile-size`` in the text or in a command). The CLI reference pages are generated from click by
mkdocs-click, so they list every option by construction; counting them would make this test unable
to fail. They must still exist, one per command, and point at that command (checked below).

The commands of the tutorial (``docs/getting-started/tutorial.md``) and of the README's "First
commands" run verbatim on the bundled samples, with one substitution so that the file stays within
about two minutes on 2 cores: a time budget (``--time-budget 10m``) becomes two steps (``--steps 2``).
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest

from geo_pix2pix.cli.main import COMMANDS, cli

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = REPO / "README.md"
TUTORIAL = DOCS / "getting-started" / "tutorial.md"

#: Options of other programs that the docs name, each with the program it belongs to: they are not
#: geopix's, so they are not checked against geopix's commands.
FOREIGN_OPTIONS = {
    "--nproc-per-node": "torchrun", "--nnodes": "torchrun", "--rdzv-backend": "torchrun",
    "--rdzv-endpoint": "torchrun", "--max-restarts": "torchrun",
    "--parsable": "sbatch", "--array": "sbatch", "--cpus-per-task": "sbatch", "--wrap": "sbatch",
    "--dependency": "sbatch",
    "--index-url": "pip", "--no-deps": "pip", "--quiet": "pip", "--no-index": "pip", "--no-build-isolation": "pip",
    "--strict": "mkdocs build", "--site-dir": "mkdocs build",
    "--skip-large": "bench/translate_throughput.py",
    "--minutes": "bench/cpu_recipe.py", "--seeds": "bench/cpu_recipe.py", "--preview": "bench/cpu_recipe.py",
    "--paper": "bench/cpu_recipe.py", "--google": "bench/hd_quality.py", "--rounds": "bench/stream_stress.py",
    "--nproc": "bench/scale_out.py", "--base": "bench/parity.py", "--size": "bench/scale_out.py, onnx_throughput.py",
    "--repeats": "bench/scale_out.py, onnx_throughput.py", "--skip-export": "bench/onnx_throughput.py",
    "--only": "bench/core_step.py", "--side-by-side": "bench/periodicity.py",
    "--seen": "bench/learning.py", "--shifted": "bench/learning.py",
    "--noversioncheck": "qgis_process (a wrapper's option QGIS 3.22 does not know)",
    "--png": "tests/qgis_plugin/legend_driver.py",
}


def _walk(group: click.Group) -> dict[str, click.Command]:
    ctx = click.Context(group)
    return {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}  # type: ignore[misc]


def _options(command: click.Command) -> set[str]:
    """Every long option of a command (``--no-amp`` and the second name of a flag pair included)."""
    return {o for p in command.params if isinstance(p, click.Option)
            for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}


COMMAND_TREE = _walk(cli)
GLOBAL_OPTIONS = _options(cli) | {"--help"}
ALL_OPTIONS = set().union(*(_options(c) for c in COMMAND_TREE.values())) | GLOBAL_OPTIONS


def _pages() -> dict[Path, str]:
    """The hand-written pages: every Markdown file of docs/ (the CLI pages hold only their
    mkdocs-click directive and a line of prose, so they add no option names)."""
    return {p: p.read_text() for p in sorted(DOCS.rglob("*.md"))}


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, flags=re.S | re.M)


def _geopix_commands(text: str) -> list[list[str]]:
    """The geopix command lines of a page's code blocks, continuation lines joined, split like a
    shell does (comments dropped); each starts at the geopix subcommand."""
    found = []
    for block in _code_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].split("  #")[0]
            m = re.search(r"(?:^|\s|/|\$\(which )geopix\)? +(?P<rest>.*)", line)
            if not m or line.lstrip().startswith(("python", "pip", "%", ">>>")):
                continue
            try:
                words = shlex.split(m.group("rest"))
            except ValueError:
                words = m.group("rest").split()
            while words and words[0].startswith("-"):  # global options before the subcommand
                words.pop(0)
            if words and words[0] in COMMANDS:
                found.append(words)
    return found


# ---- every command and option is documented ---------------------------------------------------

def test_the_command_tree_is_what_main_lists() -> None:
    assert set(COMMAND_TREE) == set(COMMANDS), "a command of COMMANDS cannot be imported"
    assert len(ALL_OPTIONS) > 100  # the walk reached the commands' options, not only the group's


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_a_generated_reference_page(name: str) -> None:
    page = DOCS / "cli" / f"{name}.md"
    assert page.exists(), f"docs/cli/{name}.md is missing: add it (mkdocs-click) and to mkdocs.yml's nav"
    text = page.read_text()
    module, attr, _ = COMMANDS[name]
    assert f":module: {module}" in text and f":command: {attr}" in text, \
        f"docs/cli/{name}.md does not generate `geopix {name}` ({module}:{attr})"
    assert f"cli/{name}.md" in (REPO / "mkdocs.yml").read_text(), f"docs/cli/{name}.md is not in the nav"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_of_a_command_is_named_by_a_page(name: str) -> None:
    text = "\n".join(_pages().values())
    named = set(re.findall(r"--[a-z][a-z0-9-]*", text))
    missing = sorted(_options(COMMAND_TREE[name]) - named - {"--help"})
    assert not missing, (f"geopix {name}: {', '.join(missing)} appear in no docs page; say what they do on "
                         "the user-guide page of the command")


def test_the_global_options_are_named_by_a_page() -> None:
    text = "\n".join(_pages().values())
    missing = sorted(o for o in GLOBAL_OPTIONS - {"--help"} if o not in text)
    assert not missing, f"geopix {', '.join(missing)} appear in no docs page"


# ---- the docs name no option that does not exist --------------------------------------------------

@pytest.mark.parametrize("path", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: str(p.relative_to(REPO)))
def test_commands_on_a_page_use_only_options_of_that_command(path: Path) -> None:
    bad = []
    for words in _geopix_commands(path.read_text()):
        known = _options(COMMAND_TREE[words[0]]) | GLOBAL_OPTIONS
        bad += [f"geopix {words[0]} {w.split('=')[0]}" for w in words[1:]
                if w.startswith("--") and w.split("=")[0] not in known]
    assert not bad, f"{path.relative_to(REPO)} names options these commands do not have: {bad}"


@pytest.mark.parametrize("path", [README, *sorted(DOCS.rglob("*.md"))], ids=lambda p: str(p.relative_to(REPO)))
def test_every_option_a_page_names_exists(path: Path) -> None:
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]", path.read_text()))
    unknown = sorted(named - ALL_OPTIONS - set(FOREIGN_OPTIONS))
    assert not unknown, (f"{path.relative_to(REPO)} names {unknown}, which no geopix command has (renamed or "
                         "removed?); if it is another program's, add it to FOREIGN_OPTIONS with that program")


def test_the_option_checks_can_fail() -> None:
    """The parser finds commands and their options, so a misspelt option would be caught."""
    page = ("```bash\ngeopix train --imagery a.tif \\\n    --tile-sise 64  # typo\n"
            ".venv/bin/geopix -q translate a b\n```\n")
    words = _geopix_commands(page)
    assert words[0][:3] == ["train", "--imagery", "a.tif"] and "--tile-sise" in words[0]
    assert words[1][0] == "translate"
    assert "--tile-sise" not in _options(COMMAND_TREE["train"])


def test_the_docs_show_the_version_geopix_reports() -> None:
    from geo_pix2pix._version import __version__

    sys.path.insert(0, str(DOCS / "hooks"))
    try:
        import version as hook  # docs/hooks/version.py, the mkdocs hook
    finally:
        sys.path.pop(0)
    assert hook.read_version() == __version__
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text(), "CHANGELOG.md has no entry for this version"


# ---- the tutorial's and the README's commands run -------------------------------------------------

def _script(text: str, section: str | None = None) -> str:
    """The bash blocks of a page (of one section of it), as one script with short budgets."""
    if section is not None:
        text = text.split(section, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    lines = [ln for b in blocks for ln in b.splitlines() if not ln.startswith(("source ", "xdg-open", "make "))]
    script = "\n".join(lines)
    return re.sub(r"--time-budget \S+", "--steps 2", script)


@pytest.fixture
def geopix_on_path(tmp_path: Path) -> dict[str, str]:
    """A workspace with the bundled samples and a ``geopix`` on PATH that runs this checkout's."""
    (tmp_path / "examples").symlink_to(REPO / "examples")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "geopix"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m geo_pix2pix.cli.main "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


def _run(script: str, cwd: Path, env: dict[str, str]) -> str:
    assert "geopix train" in script and "--steps 2" in script, script
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}:\n{script}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr[-4000:]}"
    return r.stdout


def test_the_tutorial_runs(tmp_path: Path, geopix_on_path: dict[str, str]) -> None:
    out = _run(_script(TUTORIAL.read_text()), tmp_path, geopix_on_path)
    assert "crs:         EPSG:3857" in out
    for made in ("runs/tutorial/model.safetensors", "out/charlotte_map.tif", "runs/pan_inpaint/model.safetensors",
                 "out/atlanta_filled.tif", "out/atlanta_filled.filled.tif"):
        assert (tmp_path / made).exists(), made


def test_the_readme_first_commands_run(tmp_path: Path, geopix_on_path: dict[str, str]) -> None:
    (tmp_path / "out").mkdir()
    out = _run(_script(README.read_text(), "## First commands"), tmp_path, geopix_on_path)
    assert "mIoU" in out
    assert (tmp_path / "out/charlotte_map.tif").exists()
