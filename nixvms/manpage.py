"""The manual pages, made from the click commands: nixvms(1) and nixos-build-vms(8).

`python -m nixvms.manpage [DIR]` writes DIR/man1/nixvms.1 and
DIR/man8/nixos-build-vms.8 (default DIR: man/ of the checkout, which
pyproject.toml installs to share/man). Each command's usage, help,
options and examples come from its click definition, so the pages say what
`--help` says; tests/test_manpages.py checks that the committed pages are
what this makes. The pages carry no date, so that the same commands make
the same pages.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from nixvms import __version__

PAGES = {"nixvms": ("man1", "nixvms.1"), "nixos-build-vms": ("man8", "nixos-build-vms.8")}


def escape(text: str) -> str:
    """Text as roff: backslashes and hyphens escaped, no line read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line
                     for line in text.split("\n"))


def paragraphs(text: str | None) -> list[tuple[bool, str]]:
    """click's help text as paragraphs: (preformatted, text). A paragraph that
    starts with click's \\b line keeps its line breaks."""
    if not text:
        return []
    found = []
    for block in inspect.cleandoc(text).split("\n\n"):
        if block.startswith("\b"):
            found.append((True, block[1:].strip("\n")))
        elif block.strip():
            found.append((False, " ".join(block.split())))
    return found


def body(text: str | None) -> list[str]:
    """Help or epilog text as roff lines."""
    lines: list[str] = []
    for preformatted, paragraph in paragraphs(text):
        if preformatted:
            head, _, rest = paragraph.partition("\n")
            if head.strip().endswith(":") and rest:
                lines += [".PP", escape(head.strip())]
                paragraph = rest
            lines += [".PP", ".RS 4", ".nf", escape(_dedent(paragraph)), ".fi", ".RE"]
        else:
            lines += [".PP", escape(paragraph)]
    return lines


def _dedent(text: str) -> str:
    rows = text.split("\n")
    indent = min((len(r) - len(r.lstrip()) for r in rows if r.strip()), default=0)
    return "\n".join(r[indent:] for r in rows)


def options(command: click.Command, ctx: click.Context) -> list[str]:
    """The command's options, one .TP entry each (its names and metavar bold/italic)."""
    lines: list[str] = []
    for param in command.get_params(ctx):
        if not isinstance(param, click.Option) or param.hidden:
            continue
        if "--help" in param.opts:  # every command has it; DESCRIPTION says so
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", _option_names(names), escape(" ".join(help_text.split()))]
    return lines


def _option_names(names: str) -> str:
    """`-o, --out-link PATH` as roff: option names bold, the metavar italic."""
    words = []
    for part in names.split(", "):
        flag, _, metavar = part.partition(" ")
        words.append(f"\\fB{escape(flag)}\\fR" + (f" \\fI{escape(metavar)}\\fR" if metavar
                                                   else ""))
    return ", ".join(words)


def _usage(command: click.Command, ctx: click.Context) -> str:
    return " ".join(command.collect_usage_pieces(ctx))


def _header(name: str, section: int, title: str) -> list[str]:
    return [
        '.\\" Made by nixvms/manpage.py from the click commands: `python -m nixvms.manpage`.',
        f'.TH {name.upper()} {section} "" "nixvms {__version__}" "{title}"',
        ".nh",  # no hyphenation: paths and options stay whole
        ".ad l",
    ]


ENVIRONMENT = [
    ("NIXVMS_STATE_DIR", "Where a project's state lives (as --state-dir; default .nixvms "
                         "beside the network file). --state-dir DIR means the same to every "
                         "command, result/bin/run-vms and result/bin/nixos-test-driver "
                         "included: the project's state directory, with the running "
                         "network's files in DIR/run."),
    ("NIX_PATH", "Nix's search path: where <nixpkgs> is found. A nixpkgs entry that does not "
                 "exist is an error; with none at all nixvms builds with its bundled tinyos."),
    ("NIXVMS_ACCEL", "QEMU acceleration for up and test: auto, kvm or tcg (as --accel)."),
    ("NIXVMS_SSH_PORT_BASE", "The first host port tried for the machines' ssh forwards "
                             "(default 10022)."),
    ("NIXVMS_STOP_TIMEOUT", "Seconds a machine gets to stop before it is killed "
                            "(default 5)."),
    ("QEMU_OPTS, QEMU_NET_OPTS, QEMU_KERNEL_PARAMS", "Passed to every machine's VM script, as "
                                                     "NixOS's qemu-vm.nix reads them."),
]

FILES = [
    ("network.nix", "The network: an attribute set of machine name to NixOS module (also "
                    "defaults, network and meta, as nixops and colmena accept)."),
    ("result", "The network directory of the last build: bin/run-vms, "
               "bin/nixos-test-driver, network.json, vms/<machine>."),
    (".nixvms/", "The project's state: records of the last run, doit's database, GC roots, "
                 "the project's ssh key, logs/<machine>.build.log (see nixvms log), and "
                 "run/ (the running network's consoles, disks and sockets)."),
]


def _definitions(entries: Iterable[tuple[str, str]]) -> list[str]:
    lines: list[str] = []
    for term, text in entries:
        lines += [".TP", f"\\fB{escape(term)}\\fR", escape(text)]
    return lines


def nixvms_page(group: click.Group) -> str:
    """nixvms(1): every command with its usage, help, options and examples."""
    ctx = click.Context(group, info_name="nixvms")
    lines = _header("nixvms", 1, "nixvms manual")
    lines += [".SH NAME", "nixvms \\- " + escape(
        "build and run networks of NixOS virtual machines, incrementally")]
    lines += [".SH SYNOPSIS", ".B nixvms", "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] "
              "[\\fIARGUMENTS\\fR]"]
    lines += [".SH DESCRIPTION", *body(group.help), ".PP", escape(
        "nixvms builds a network of QEMU virtual machines from a network of NixOS "
        "configurations, as nixos-build-vms(8) does, but as a doit task graph: each machine "
        "is evaluated and built by its own tasks, so a build after an edit redoes only the "
        "machines whose inputs changed, and a build after no edit runs no Nix evaluation or "
        "build at all. Then it starts the machines, connected by a switch per VLAN, and "
        "gives them ssh, consoles and NixOS's test driver.")]
    lines += [".PP", escape("Every command takes -h or --help. Exit status: 0 on success, "
                            "1 when a build, a check or a machine failed, 2 for a usage "
                            "error, 130 when interrupted.")]
    lines += [".SH COMMANDS"]
    aliases: dict[str, list[str]] = {}
    for name, command in group.commands.items():
        if name != command.name:
            aliases.setdefault(str(command.name), []).append(name)
    for name in sorted(group.commands):
        command = group.commands[name]
        if name != command.name:
            continue
        sub = click.Context(command, info_name=name, parent=ctx)
        also = "".join(f" (also \\fBnixvms {escape(a)}\\fR)" for a in aliases.get(name, []))
        lines += [f'.SS "nixvms {escape(name)} {escape(_usage(command, sub))}"']
        if also:
            lines += [".PP", f"\\fBnixvms {escape(name)}\\fR{also}"]
        lines += body(command.help)
        lines += options(command, sub)
        lines += body(command.epilog)
    lines += [".SH ENVIRONMENT", *_definitions(ENVIRONMENT)]
    lines += [".SH FILES", *_definitions(FILES)]
    lines += [".SH SEE ALSO", "\\fBnixos-build-vms\\fR(8), \\fBnix-build\\fR(1), "
              "\\fBnix-store\\fR(1), \\fBdoit\\fR(1), \\fBssh\\fR(1), "
              "\\fBqemu-system-x86_64\\fR(1)"]
    return "\n".join(lines) + "\n"


NETWORK_EXAMPLE = """\
{
  test1 = { pkgs, config, ... }: {
    services.openssh.enable = true;
    nixpkgs.system = "i686-linux";
    deployment.targetHost = "test1.example.net";
  };
  test2 = { pkgs, config, ... }: {
    services.openssh.enable = true;
    services.httpd.enable = true;
    environment.systemPackages = [ pkgs.lynx ];
    deployment.targetHost = "test2.example.net";
  };
}"""


def nixos_build_vms_page(command: click.Command) -> str:
    """nixos-build-vms(8): the NixOS command's interface, on nixvms's task graph."""
    ctx = click.Context(command, info_name="nixos-build-vms")
    lines = _header("nixos-build-vms", 8, "nixvms manual")
    lines += [".SH NAME", "nixos\\-build\\-vms \\- " + escape(
        "build a network of virtual machines from a network of NixOS configurations")]
    lines += [".SH SYNOPSIS", ".B nixos\\-build\\-vms",
              "[\\fB\\-\\-show\\-trace\\fR] [\\fB\\-\\-option\\fR \\fIname\\fR "
              "\\fIvalue\\fR] [\\fB\\-\\-no\\-out\\-link\\fR] \\fInetwork.nix\\fR"]
    lines += [".SH DESCRIPTION", ".PP", escape(
        "nixos-build-vms takes a Nix expression that describes a network of NixOS machines "
        "and builds a QEMU virtual machine for each of them, wired together: every machine "
        "is on a virtual switch per VLAN it names (virtualisation.vlans, by default VLAN 1), "
        "with addresses 192.168.<vlan>.<n> given by machine name in sorted order, and every "
        "machine's /etc/hosts names every other machine.")]
    lines += [".PP", escape(
        "It links ./result to the network directory it made (--no-out-link: it links "
        "nothing and prints the directory's store path). result/bin/run-vms, or "
        "result/bin/nixos-run-vms, starts every machine and keeps them running until it is "
        "interrupted; each machine's disk image is kept in the project's state between "
        "runs. Its --state-dir DIR names the project's state directory, as nixvms(1)'s "
        "does: the running network's files go in DIR/run.")]
    lines += [".PP", escape(
        "The network expression is an attribute set: each attribute names a machine, and "
        "its value is that machine's NixOS configuration module. A defaults attribute, "
        "applied to every machine, and network or meta attributes are accepted too. "
        "Where no nixpkgs is on NIX_PATH, the machines are built with nixvms's bundled "
        "tinyos, which takes the same modules for the options it supports.")]
    lines += [".PP", escape(
        "This implementation builds the network with nixvms(1)'s incremental task graph: "
        "a second run after no edit evaluates and builds nothing, and after an edit only the "
        "machines it touched. The whole interface is nixvms build's; this command keeps "
        "NixOS's name and options.")]
    lines += [".SH OPTIONS", *options(command, ctx)]
    lines += [".SH EXAMPLES", ".PP", escape("A network of two machines, in network.nix:"),
              ".PP", ".RS 4", ".nf", escape(NETWORK_EXAMPLE), ".fi", ".RE"]
    lines += body(command.epilog)
    lines += [".SH FILES", *_definitions(FILES[1:2])]
    lines += [".SH SEE ALSO", "\\fBnixvms\\fR(1), \\fBnix-build\\fR(1), "
              "\\fBnixos-rebuild\\fR(8)"]
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    """The pages' paths under a man directory, and their text."""
    from nixvms.cli import load_all_commands, nixos_build_vms, nixvms

    load_all_commands()
    texts = {"nixvms": nixvms_page(nixvms), "nixos-build-vms": nixos_build_vms_page(
        nixos_build_vms)}
    return {f"{PAGES[name][0]}/{PAGES[name][1]}": text for name, text in texts.items()}


def write(directory: Path) -> list[Path]:
    written = []
    for relative, text in pages().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "man"
    for path in write(directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
