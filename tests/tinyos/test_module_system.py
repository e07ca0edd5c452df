"""The tinyos module system (nixvms/tinyos/lib) behaves as NixOS's lib.evalModules.

Every test evaluates real Nix (`nix-instantiate --eval --strict --json`) on small module
files written into a temporary directory, so error messages can be checked for the
file names they must mention.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.nix

REPO = Path(__file__).resolve().parents[2]
LIB = REPO / "nixvms" / "tinyos" / "lib"
MACHINE = Path(__file__).resolve().parent / "modules" / "machine"


def _run(expr: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nix-instantiate", "--eval", "--strict", "--json", "-E", expr],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "NIX_CONFIG": os.environ.get("NIX_CONFIG", "substituters =")},
    )


def nix_value(expr: str, cwd: Path) -> Any:
    """Evaluate `expr` (with `lib` in scope); return its JSON value."""
    proc = _run(f"let lib = import {LIB}; in {expr}", cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def nix_error(expr: str, cwd: Path) -> str:
    """Evaluate `expr` (with `lib` in scope), which must fail; return the error text
    with runs of whitespace squashed to one space (Nix indents continuation lines)."""
    proc = _run(f"let lib = import {LIB}; in {expr}", cwd)
    assert proc.returncode != 0, f"expected an error, got {proc.stdout}"
    assert "error:" in proc.stderr
    return squash(proc.stderr)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def module(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def modules(tmp_path: Path, **files: str) -> str:
    """Write module files (name without .nix -> text); return a Nix list of their paths."""
    paths = [module(tmp_path, f"{name}.nix", text) for name, text in files.items()]
    return "[ " + " ".join(str(p) for p in paths) + " ]"


def config(tmp_path: Path, attr: str, **files: str) -> Any:
    mods = modules(tmp_path, **files)
    return nix_value(f"(lib.evalModules {{ modules = {mods}; }}).config.{attr}", tmp_path)


def config_error(tmp_path: Path, attr: str, **files: str) -> str:
    mods = modules(tmp_path, **files)
    return nix_error(f"(lib.evalModules {{ modules = {mods}; }}).config.{attr}", tmp_path)


def decl(name: str, type_: str, extra: str = "") -> str:
    """A module declaring option `name` of type `type_` (a `lib.types` expression)."""
    return f"""
        {{ lib, ... }}: with lib; {{
          options.{name} = mkOption {{ type = {type_}; {extra} }};
        }}
    """


# ---------------------------------------------------------------------------
# Merging rules


def test_list_definitions_from_several_modules_are_concatenated(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.str"),
        a='{ xs = [ "a1" "a2" ]; }',
        b='{ xs = [ "b" ]; }',
    )
    assert sorted(got) == ["a1", "a2", "b"]


def test_list_definitions_of_an_imported_module_come_before_the_importers(
    tmp_path: Path,
) -> None:
    module(tmp_path, "inner.nix", '{ xs = [ "inner" ]; }')
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.str"),
        outer='{ imports = [ ./inner.nix ]; xs = [ "outer" ]; }',
    )
    assert got == ["inner", "outer"]


def test_mkBefore_and_mkAfter_order_list_definitions(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.str"),
        a='{ lib, ... }: { xs = lib.mkAfter [ "last" ]; }',
        b='{ xs = [ "middle" ]; }',
        c='{ lib, ... }: { xs = lib.mkBefore [ "first" ]; }',
    )
    assert got == ["first", "middle", "last"]


def test_mkOrder_orders_by_number(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int"),
        a="{ lib, ... }: { xs = lib.mkOrder 700 [ 7 ]; }",
        b="{ lib, ... }: { xs = lib.mkOrder 300 [ 3 ]; }",
        c="{ xs = [ 10 ]; }",
    )
    assert got == [3, 7, 10]


def test_attrsOf_definitions_merge_per_attribute(tmp_path: Path) -> None:
    got = config(
        tmp_path, "hosts",
        d=decl("hosts", "types.attrsOf types.str"),
        a='{ hosts.a = "1"; }',
        b='{ hosts.b = "2"; }',
    )
    assert got == {"a": "1", "b": "2"}


def test_attrsOf_merges_one_attribute_with_the_element_type(tmp_path: Path) -> None:
    got = config(
        tmp_path, "groups",
        d=decl("groups", "types.attrsOf (types.listOf types.str)"),
        a='{ groups.wheel = [ "alice" ]; }',
        b='{ groups.wheel = [ "bob" ]; }',
    )
    assert sorted(got["wheel"]) == ["alice", "bob"]


def test_lines_definitions_are_joined_with_newlines(tmp_path: Path) -> None:
    got = config(
        tmp_path, "script",
        d=decl("script", "types.lines"),
        a='{ lib, ... }: { script = lib.mkBefore "one"; }',
        b='{ script = "two"; }',
    )
    assert got == "one\ntwo"


def test_commas_definitions_are_joined_with_commas(tmp_path: Path) -> None:
    got = config(
        tmp_path, "opts",
        d=decl("opts", "types.commas"),
        a='{ lib, ... }: { opts = lib.mkBefore "ro"; }',
        b='{ opts = "noatime"; }',
    )
    assert got == "ro,noatime"


def test_submodule_definitions_merge_recursively(tmp_path: Path) -> None:
    got = config(
        tmp_path, "server",
        d=decl("server", """types.submodule {
            options.port = mkOption { type = types.port; default = 80; };
            options.names = mkOption { type = types.listOf types.str; default = [ ]; };
            options.root = mkOption { type = types.str; };
        }"""),
        a='{ server.names = [ "a" ]; server.root = "/srv"; }',
        b='{ server.names = [ "b" ]; }',
    )
    assert got["port"] == 80
    assert got["root"] == "/srv"
    assert sorted(got["names"]) == ["a", "b"]


def test_attrsOf_submodule_gets_the_attribute_name_as_name(tmp_path: Path) -> None:
    got = config(
        tmp_path, "users",
        d=decl("users", """types.attrsOf (types.submodule ({ name, ... }: {
            options.home = mkOption { type = types.str; default = "/home/${name}"; };
        }))"""),
        a="{ users.alice = { }; users.bob = { }; }",
    )
    assert got == {"alice": {"home": "/home/alice"}, "bob": {"home": "/home/bob"}}


def test_submodule_options_can_read_the_submodules_config(tmp_path: Path) -> None:
    got = config(
        tmp_path, "users.alice.home",
        d=decl("users", """types.attrsOf (types.submodule ({ config, ... }: {
            options.login = mkOption { type = types.str; };
            options.home = mkOption { type = types.str; default = "/home/${config.login}"; };
        }))"""),
        a='{ users.alice.login = "al"; }',
    )
    assert got == "/home/al"


def test_listOf_submodule_elements_are_submodule_configs(tmp_path: Path) -> None:
    got = config(
        tmp_path, "addrs",
        d=decl("addrs", """types.listOf (types.submodule {
            options.address = mkOption { type = types.str; };
            options.prefixLength = mkOption { type = types.int; default = 24; };
        })"""),
        a='{ addrs = [ { address = "10.0.0.1"; } ]; }',
    )
    assert got == [{"address": "10.0.0.1", "prefixLength": 24}]


def test_submodule_option_declared_twice_merges_both_option_sets(tmp_path: Path) -> None:
    port = "{ options.port = mkOption { default = 80; }; }"
    user = '{ options.user = mkOption { default = "www"; }; }'
    got = config(
        tmp_path, "svc.web",
        a=decl("svc", f"types.attrsOf (types.submodule {port})", "default = { };"),
        b=decl("svc", f"types.attrsOf (types.submodule {user})"),
        c="{ svc.web = { }; }",
    )
    assert got == {"port": 80, "user": "www"}


def test_equal_string_definitions_are_accepted(tmp_path: Path) -> None:
    got = config(
        tmp_path, "name",
        d=decl("name", "types.str"),
        a='{ name = "same"; }',
        b='{ name = "same"; }',
    )
    assert got == "same"


def test_option_without_definitions_has_its_default(tmp_path: Path) -> None:
    assert config(tmp_path, "n", d=decl("n", "types.int", "default = 3;")) == 3


def test_list_option_default_is_dropped_when_defined(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.str", 'default = [ "default" ];'),
        a='{ xs = [ "defined" ]; }',
    )
    assert got == ["defined"]


def test_apply_transforms_the_merged_value(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int", "apply = builtins.length;"),
        a="{ xs = [ 1 2 3 ]; }",
    )
    assert got == 3


# ---------------------------------------------------------------------------
# Priorities


def test_plain_definition_wins_over_the_option_default(tmp_path: Path) -> None:
    got = config(tmp_path, "s", d=decl("s", "types.str", 'default = "d";'), a='{ s = "x"; }')
    assert got == "x"


def test_mkDefault_loses_to_a_plain_definition(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str"),
        a='{ lib, ... }: { s = lib.mkDefault "default"; }',
        b='{ s = "plain"; }',
    )
    assert got == "plain"


def test_mkDefault_wins_over_the_option_default(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str", 'default = "option default";'),
        a='{ lib, ... }: { s = lib.mkDefault "mkDefault"; }',
    )
    assert got == "mkDefault"


def test_mkForce_wins_over_a_plain_definition(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str"),
        a='{ s = "plain"; }',
        b='{ lib, ... }: { s = lib.mkForce "forced"; }',
    )
    assert got == "forced"


def test_mkForce_replaces_list_definitions_instead_of_concatenating(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int"),
        a="{ xs = [ 1 2 ]; }",
        b="{ lib, ... }: { xs = lib.mkForce [ 3 ]; }",
    )
    assert got == [3]


def test_mkOverride_with_a_lower_number_wins(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str"),
        a='{ lib, ... }: { s = lib.mkForce "force"; }',
        b='{ lib, ... }: { s = lib.mkOverride 10 "ten"; }',
    )
    assert got == "ten"


def test_mkOptionDefault_loses_to_mkDefault(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str"),
        a='{ lib, ... }: { s = lib.mkOptionDefault "option default"; }',
        b='{ lib, ... }: { s = lib.mkDefault "mkDefault"; }',
    )
    assert got == "mkDefault"


def test_mkOptionDefault_wins_when_nothing_else_is_defined(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str"),
        a='{ lib, ... }: { s = lib.mkOptionDefault "option default"; }',
    )
    assert got == "option default"


def test_mkDefault_on_an_attribute_set_applies_to_each_attribute(tmp_path: Path) -> None:
    got = config(
        tmp_path, "net",
        d=decl("net.a", "types.int"),
        e=decl("net.b", "types.int"),
        x="{ lib, ... }: { net = lib.mkDefault { a = 1; b = 1; }; }",
        y="{ net.b = 2; }",
    )
    assert got == {"a": 1, "b": 2}


# ---------------------------------------------------------------------------
# mkIf and mkMerge


def test_mkIf_true_keeps_the_definition(tmp_path: Path) -> None:
    got = config(
        tmp_path, "n",
        d=decl("n", "types.int", "default = 0;"),
        a="{ lib, ... }: { n = lib.mkIf true 1; }",
    )
    assert got == 1


def test_mkIf_false_drops_the_definition(tmp_path: Path) -> None:
    got = config(
        tmp_path, "n",
        d=decl("n", "types.int", "default = 0;"),
        a="{ lib, ... }: { n = lib.mkIf false 1; }",
    )
    assert got == 0


def test_mkIf_condition_may_depend_on_config(tmp_path: Path) -> None:
    got = config(
        tmp_path, "ports",
        d=decl("ports", "types.listOf types.port", "default = [ ];"),
        e=decl("ssh.enable", "types.bool", "default = false;"),
        a="{ config, lib, ... }: { ports = lib.mkIf config.ssh.enable [ 22 ]; }",
        b="{ ssh.enable = true; }",
    )
    assert got == [22]


def test_mkIf_around_a_whole_config_may_read_that_modules_own_options(tmp_path: Path) -> None:
    svc = """
        { config, lib, ... }: with lib; {
          options.svc.enable = mkEnableOption "svc";
          options.users = mkOption { type = types.listOf types.str; default = [ ]; };
          config = mkIf config.svc.enable { users = [ "svc" ]; };
        }
    """
    assert config(tmp_path, "users", svc=svc, on="{ svc.enable = true; }") == ["svc"]


def test_mkIf_false_around_a_whole_config_defines_nothing(tmp_path: Path) -> None:
    svc = """
        { config, lib, ... }: with lib; {
          options.svc.enable = mkEnableOption "svc";
          options.users = mkOption { type = types.listOf types.str; default = [ "default" ]; };
          config = mkIf config.svc.enable { users = [ "svc" ]; };
        }
    """
    assert config(tmp_path, "users", svc=svc) == ["default"]


def test_mkIf_with_a_non_boolean_condition_is_an_error(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "n",
        d=decl("n", "types.int"),
        a='{ lib, ... }: { n = lib.mkIf "yes" 1; }',
    )
    # nixpkgs' sentence quotes mkIf with typographic quotes
    assert "\u2018mkIf\u2019 called with a non-Boolean condition" in err


def test_mkIf_on_list_elements_filters_them(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int"),
        a="{ lib, ... }: { xs = [ 1 (lib.mkIf false 2) (lib.mkIf true 3) ]; }",
    )
    assert got == [1, 3]


def test_mkIf_false_on_an_attrsOf_attribute_removes_it(tmp_path: Path) -> None:
    got = config(
        tmp_path, "m",
        d=decl("m", "types.attrsOf types.int"),
        a="{ lib, ... }: { m = { a = 1; b = lib.mkIf false 2; }; }",
    )
    assert got == {"a": 1}


def test_mkMerge_combines_its_definitions(tmp_path: Path) -> None:
    mods = modules(
        tmp_path,
        d=decl("xs", "types.listOf types.int"),
        e=decl("s", "types.str"),
        a="""{ lib, ... }: {
            config = lib.mkMerge [
              { xs = [ 1 ]; }
              { xs = [ 2 ]; s = "x"; }
              (lib.mkIf false { xs = [ 3 ]; })
            ];
        }""",
    )
    cfg = nix_value(f"(lib.evalModules {{ modules = {mods}; }}).config", tmp_path)
    assert cfg == {"xs": [1, 2], "s": "x"}


# ---------------------------------------------------------------------------
# Modules: imports, keys, arguments


def test_imports_are_followed_recursively(tmp_path: Path) -> None:
    module(tmp_path, "c.nix", decl("deep", "types.int", "default = 7;"))
    module(tmp_path, "b.nix", "{ imports = [ ./c.nix ]; }")
    assert config(tmp_path, "deep", a="{ imports = [ ./b.nix ]; }") == 7


def test_a_file_imported_twice_is_included_once(tmp_path: Path) -> None:
    module(tmp_path, "common.nix", "{ xs = [ 1 ]; }")
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int"),
        a="{ imports = [ ./common.nix ]; }",
        b="{ imports = [ ./common.nix ]; }",
    )
    assert got == [1]


def test_modules_with_the_same_key_are_included_once(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int"),
        a='{ imports = [ { key = "shared"; xs = [ 1 ]; } ]; }',
        b='{ imports = [ { key = "shared"; xs = [ 1 ]; } { key = "other"; xs = [ 2 ]; } ]; }',
    )
    assert sorted(got) == [1, 2]


def test_disabledModules_removes_a_module(tmp_path: Path) -> None:
    module(tmp_path, "unwanted.nix", "{ xs = [ 666 ]; }")
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int"),
        a="{ imports = [ ./unwanted.nix ]; xs = [ 1 ]; }",
        b="{ disabledModules = [ ./unwanted.nix ]; }",
    )
    assert got == [1]


def test_specialArgs_reach_every_module(tmp_path: Path) -> None:
    mods = modules(
        tmp_path,
        d=decl("s", "types.str"),
        a="{ greeting, ... }: { s = greeting; }",
    )
    got = nix_value(
        f'(lib.evalModules {{ modules = {mods}; specialArgs.greeting = "hi"; }}).config.s',
        tmp_path,
    )
    assert got == "hi"


def test_specialArgs_can_be_used_in_imports(tmp_path: Path) -> None:
    module(tmp_path, "extra.nix", decl("n", "types.int", "default = 5;"))
    mods = modules(tmp_path, a="{ extraModule, ... }: { imports = [ extraModule ]; }")
    got = nix_value(
        f"(lib.evalModules {{ modules = {mods}; specialArgs.extraModule = {tmp_path}/extra.nix; }})"
        ".config.n",
        tmp_path,
    )
    assert got == 5


def test_module_args_set_by_one_module_reach_the_others(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str"),
        pkgs='{ _module.args.pkgs = { hello = "hello-2.12"; }; }',
        a="{ pkgs, ... }: { s = pkgs.hello; }",
    )
    assert got == "hello-2.12"


def test_module_args_are_evaluated_lazily(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("s", "types.str"),
        pkgs='{ _module.args.pkgs = throw "pkgs must not be evaluated"; }',
        a='{ pkgs, ... }: { s = "no pkgs needed"; }',
    )
    assert got == "no pkgs needed"


def test_module_args_may_depend_on_config(tmp_path: Path) -> None:
    got = config(
        tmp_path, "s",
        d=decl("system", "types.str", 'default = "x86_64-linux";'),
        e=decl("s", "types.str"),
        pkgs="{ config, ... }: { _module.args.pkgs = { system = config.system; }; }",
        a="{ pkgs, ... }: { s = pkgs.system; }",
    )
    assert got == "x86_64-linux"


def test_function_modules_receive_lib_config_and_options(tmp_path: Path) -> None:
    got = config(
        tmp_path, "report",
        d=decl("name", "types.str", 'default = "n";'),
        e=decl("report", "types.attrs"),
        a="""{ lib, config, options, ... }: {
            report = {
              hasLib = lib ? mkOption;
              name = config.name;
              nameIsDefined = options.name.isDefined;
            };
        }""",
    )
    assert got == {"hasLib": True, "name": "n", "nameIsDefined": True}


def test_shorthand_module_treats_everything_but_imports_as_config(tmp_path: Path) -> None:
    module(tmp_path, "decls.nix", decl("n", "types.int"))
    assert config(tmp_path, "n", a="{ imports = [ ./decls.nix ]; n = 4; }") == 4


def test_attribute_set_modules_need_no_function(tmp_path: Path) -> None:
    mods = modules(tmp_path, d=decl("n", "types.int"))
    got = nix_value(f"(lib.evalModules {{ modules = {mods} ++ [ {{ n = 9; }} ]; }}).config.n",
                    tmp_path)
    assert got == 9


def test_full_form_module_with_extra_top_level_attributes_is_an_error(tmp_path: Path) -> None:
    err = config_error(tmp_path, "n", d=decl("n", "types.int"), a="{ config.n = 1; n = 2; }")
    assert "has an unsupported attribute `n'" in err


def test_file_attribute_names_the_module_in_errors(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "n",
        d=decl("n", "types.int"),
        a='{ _file = "/virtual/place.nix"; n = "one"; }',
    )
    assert "- In `/virtual/place.nix': \"one\"" in err


def test_options_expose_definitions_files_and_priority(tmp_path: Path) -> None:
    mods = modules(tmp_path, d=decl("n", "types.int", "default = 1;"), a="{ n = 2; }")
    got = nix_value(
        f"let o = (lib.evalModules {{ modules = {mods}; }}).options.n; in "
        "{ inherit (o) isDefined files definitions highestPrio value; }",
        tmp_path,
    )
    assert got == {
        "isDefined": True, "files": [str(tmp_path / "a.nix")], "definitions": [2],
        "highestPrio": 100, "value": 2,
    }


def test_extendModules_evaluates_with_more_modules(tmp_path: Path) -> None:
    mods = modules(tmp_path, d=decl("xs", "types.listOf types.int"), a="{ xs = [ 1 ]; }")
    got = nix_value(
        f"((lib.evalModules {{ modules = {mods}; }}).extendModules "
        "{ modules = [ { xs = [ 2 ]; } ]; }).config.xs",
        tmp_path,
    )
    assert sorted(got) == [1, 2]


def test_freeformType_accepts_undeclared_definitions(tmp_path: Path) -> None:
    mods = modules(
        tmp_path,
        d="""{ lib, ... }: with lib; {
            freeformType = types.attrsOf types.anything;
            options.declared = mkOption { type = types.int; default = 1; };
        }""",
        a='{ extra.deep = "x"; }',
    )
    cfg = nix_value(f"(lib.evalModules {{ modules = {mods}; }}).config", tmp_path)
    assert cfg == {"declared": 1, "extra": {"deep": "x"}}


def test_a_submodule_definition_may_be_a_function_module(tmp_path: Path) -> None:
    got = config(
        tmp_path, "users.alice.home",
        d=decl("users", """types.attrsOf (types.submodule {
            options.home = mkOption { type = types.str; };
        })"""),
        a='{ users.alice = { name, ... }: { home = "/srv/${name}"; }; }',
    )
    assert got == "/srv/alice"


def test_mkRenamedOptionModule_forwards_definitions_to_the_new_option(tmp_path: Path) -> None:
    got = config(
        tmp_path, "new.port",
        d=decl("new.port", "types.port", "default = 1;"),
        r='{ lib, ... }: { imports = [ (lib.mkRenamedOptionModule [ "old" ] [ "new" "port" ]) ]; }',
        a="{ old = 22; }",
    )
    assert got == 22


def test_mkAliasOptionModule_merges_alias_and_target_definitions(tmp_path: Path) -> None:
    got = config(
        tmp_path, "xs",
        d=decl("xs", "types.listOf types.int"),
        r='{ lib, ... }: { imports = [ (lib.mkAliasOptionModule [ "ys" ] [ "xs" ]) ]; }',
        a="{ ys = [ 1 ]; xs = [ 2 ]; }",
    )
    assert sorted(got) == [1, 2]


# ---------------------------------------------------------------------------
# Errors


def test_defining_an_undeclared_option_names_the_option_and_the_file(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "networking",
        d=decl("networking.hostName", "types.str", 'default = "h";'),
        bad="{ networking.foo = 1; }",
    )
    assert (
        "The option `networking.foo' does not exist. Definition values: "
        f"- In `{tmp_path}/bad.nix': 1"
    ) in err


def test_an_undeclared_option_is_reported_even_when_other_options_are_read(
    tmp_path: Path,
) -> None:
    err = config_error(
        tmp_path, "n",
        d=decl("n", "types.int", "default = 1;"),
        bad="{ typo = true; }",
    )
    assert "The option `typo' does not exist." in err


def test_undeclared_option_inside_a_submodule_names_the_full_path(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "users.alice",
        d=decl("users", "types.attrsOf (types.submodule { options.uid = mkOption { }; })"),
        bad="{ users.alice.shell = 1; }",
    )
    assert (
        "The option `users.alice.shell' does not exist. Definition values: "
        f"- In `{tmp_path}/bad.nix': 1"
    ) in err


def test_wrong_type_names_option_expected_type_value_and_file(tmp_path: Path) -> None:
    err = config_error(tmp_path, "enable", d=decl("enable", "types.bool"),
                       bad='{ enable = "yes"; }')
    assert (
        "A definition for option `enable' is not of type `boolean'. Definition values: "
        f"- In `{tmp_path}/bad.nix': \"yes\""
    ) in err


def test_wrong_type_in_a_list_element_names_the_entry(tmp_path: Path) -> None:
    err = config_error(tmp_path, "xs", d=decl("xs", "types.listOf types.int"),
                       bad='{ xs = [ 1 "two" ]; }')
    assert (
        "A definition for option `xs.\"[definition 1-entry 2]\"' is not of type `signed integer'"
    ) in err
    assert f"- In `{tmp_path}/bad.nix': \"two\"" in err


def test_conflicting_scalar_definitions_name_both_files(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "name",
        d=decl("name", "types.str"),
        one='{ name = "a"; }',
        two='{ name = "b"; }',
    )
    assert "The option `name' has conflicting definition values:" in err
    assert f"- In `{tmp_path}/one.nix': \"a\"" in err
    assert f"- In `{tmp_path}/two.nix': \"b\"" in err


def test_conflicting_boolean_definitions_are_an_error(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "flag",
        d=decl("flag", "types.bool"),
        one="{ flag = true; }",
        two="{ flag = false; }",
    )
    assert "The option `flag' has conflicting definition values:" in err


def test_two_definitions_of_a_package_are_an_error(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "pkg",
        d=decl("pkg", "types.package"),
        one='{ pkg = "/nix/store/00000000000000000000000000000000-a"; }',
        two='{ pkg = "/nix/store/00000000000000000000000000000000-b"; }',
    )
    assert "The option `pkg' is defined multiple times while it's expected to be unique." in err


def test_option_without_definition_or_default_errors_only_when_read(tmp_path: Path) -> None:
    files = {"d": decl("needed", "types.str"), "e": decl("other", "types.int", "default = 1;")}
    assert config(tmp_path, "other", **files) == 1
    err = config_error(tmp_path, "needed", **files)
    assert ("The option `needed' was accessed but has no value defined."
            " Try setting the option.") in err


def test_read_only_option_defined_twice_is_an_error(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "ro",
        d=decl("ro", "types.int", "readOnly = true;"),
        one="{ ro = 1; }",
        two="{ ro = 2; }",
    )
    assert "The option `ro' is read-only, but it's set multiple times." in err


def test_declaring_an_option_twice_with_defaults_is_an_error(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "n",
        one=decl("n", "types.int", "default = 1;"),
        two=decl("n", "types.int", "default = 2;"),
    )
    assert "The option `n' in `" in err
    assert "' is already declared in `" in err


# ---------------------------------------------------------------------------
# Types


def test_nullOr_accepts_null(tmp_path: Path) -> None:
    got = config(tmp_path, "uid", d=decl("uid", "types.nullOr types.int"), a="{ uid = null; }")
    assert got is None


def test_nullOr_accepts_the_element_type(tmp_path: Path) -> None:
    got = config(tmp_path, "uid", d=decl("uid", "types.nullOr types.int"), a="{ uid = 5; }")
    assert got == 5


def test_nullOr_rejects_other_types(tmp_path: Path) -> None:
    err = config_error(tmp_path, "uid", d=decl("uid", "types.nullOr types.int"),
                       a='{ uid = "5"; }')
    assert "is not of type `null or signed integer'" in err


def test_enum_accepts_a_member(tmp_path: Path) -> None:
    got = config(tmp_path, "e", d=decl("e", 'types.enum [ "yes" "no" ]'), a='{ e = "no"; }')
    assert got == "no"


def test_enum_rejects_a_non_member_and_lists_the_members(tmp_path: Path) -> None:
    err = config_error(tmp_path, "e", d=decl("e", 'types.enum [ "yes" "no" ]'),
                       a='{ e = "maybe"; }')
    assert "is not of type `one of \"yes\", \"no\"'" in err
    assert '"maybe"' in err


def test_either_accepts_both_types(tmp_path: Path) -> None:
    d = decl("v", "types.attrsOf (types.either types.int types.str)")
    assert config(tmp_path, "v", d=d, a='{ v = { a = 1; b = "two"; }; }') == {"a": 1, "b": "two"}


def test_either_rejects_a_third_type(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d=decl("v", "types.either types.int types.str"),
                       a="{ v = true; }")
    assert "is not of type `signed integer or string'" in err


def test_oneOf_accepts_any_listed_type(tmp_path: Path) -> None:
    d = decl("v", "types.listOf (types.oneOf [ types.int types.bool types.str ])")
    assert config(tmp_path, "v", d=d, a='{ v = [ 1 true "x" ]; }') == [1, True, "x"]


def test_ints_between_rejects_values_out_of_range(tmp_path: Path) -> None:
    err = config_error(tmp_path, "n", d=decl("n", "types.ints.between 1 10"), a="{ n = 11; }")
    assert "is not of type `integer between 1 and 10 (both inclusive)'" in err


def test_ints_unsigned_rejects_negative_numbers(tmp_path: Path) -> None:
    err = config_error(tmp_path, "n", d=decl("n", "types.ints.unsigned"), a="{ n = -1; }")
    assert "is not of type `unsigned integer, meaning >=0'" in err


def test_ints_positive_rejects_zero(tmp_path: Path) -> None:
    err = config_error(tmp_path, "n", d=decl("n", "types.ints.positive"), a="{ n = 0; }")
    assert "is not of type `positive integer, meaning >0'" in err


def test_port_rejects_numbers_above_65535(tmp_path: Path) -> None:
    err = config_error(tmp_path, "p", d=decl("p", "types.port"), a="{ p = 70000; }")
    assert "16 bit unsigned integer; between 0 and 65535 (both inclusive)" in err


def test_strMatching_rejects_non_matching_strings(tmp_path: Path) -> None:
    err = config_error(tmp_path, "s", d=decl("s", 'types.strMatching "[a-z]+"'), a='{ s = "A1"; }')
    assert "is not of type `string matching the pattern [a-z]+'" in err


def test_nonEmptyStr_rejects_blank_strings(tmp_path: Path) -> None:
    err = config_error(tmp_path, "s", d=decl("s", "types.nonEmptyStr"), a='{ s = " "; }')
    assert "is not of type `non-empty string'" in err


def test_str_rejects_integers(tmp_path: Path) -> None:
    err = config_error(tmp_path, "s", d=decl("s", "types.str"), a="{ s = 1; }")
    assert "is not of type `string'" in err


def test_package_accepts_derivations_and_store_paths(tmp_path: Path) -> None:
    d = decl("pkgs", "types.listOf types.package")
    got = config(tmp_path, "pkgs", d=d, a="""{
        pkgs = [
          (derivation { name = "x"; system = "x86_64-linux"; builder = "/bin/sh"; })
          "/nix/store/00000000000000000000000000000000-y"
        ];
    }""")
    assert got[0].endswith("-x")
    assert got[1] == "/nix/store/00000000000000000000000000000000-y"


def test_package_rejects_other_strings(tmp_path: Path) -> None:
    err = config_error(tmp_path, "p", d=decl("p", "types.package"), a='{ p = "vim"; }')
    assert "is not of type `package'" in err


def test_path_rejects_relative_strings(tmp_path: Path) -> None:
    err = config_error(tmp_path, "p", d=decl("p", "types.path"), a='{ p = "etc/x"; }')
    assert "is not of type `absolute path'" in err


def test_uniq_rejects_a_second_definition(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "xs",
        d=decl("xs", "types.uniq (types.listOf types.int)"),
        one="{ xs = [ 1 ]; }",
        two="{ xs = [ 2 ]; }",
    )
    assert "is defined multiple times while it's expected to be unique" in err


def test_functionTo_merges_the_results(tmp_path: Path) -> None:
    got = config(
        tmp_path, 'f "x"',
        d=decl("f", "types.functionTo (types.listOf types.str)"),
        one='{ f = a: [ "one-${a}" ]; }',
        two='{ f = a: [ "two-${a}" ]; }',
    )
    assert sorted(got) == ["one-x", "two-x"]


def test_anything_merges_attribute_sets_recursively(tmp_path: Path) -> None:
    got = config(
        tmp_path, "settings",
        d=decl("settings", "types.anything"),
        one="{ settings.a.x = 1; }",
        two="{ settings.a.y = 2; }",
    )
    assert got == {"a": {"x": 1, "y": 2}}


def test_lazyAttrsOf_does_not_evaluate_other_attributes(tmp_path: Path) -> None:
    got = config(
        tmp_path, "m.b",
        d=decl("m", "types.lazyAttrsOf types.int"),
        a='{ lib, ... }: { m.a = lib.mkIf (throw "not needed") 1; m.b = 2; }',
    )
    assert got == 2


def test_coercedTo_converts_the_coerced_type(tmp_path: Path) -> None:
    d = decl("xs", "types.coercedTo types.str (s: [ s ]) (types.listOf types.str)")
    got = config(tmp_path, "xs", d=d, one='{ xs = "a"; }', two='{ xs = [ "b" ]; }')
    assert sorted(got) == ["a", "b"]


# ---------------------------------------------------------------------------
# lib helpers (named and behaving as in nixpkgs)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ('lib.concatMapStringsSep "," toString [ 1 2 ]', "1,2"),
        ('lib.optionalString false "x"', ""),
        ("lib.optionals true [ 1 ] ++ lib.optional false 2", [1]),
        ("lib.optionalAttrs true { a = 1; }", {"a": 1}),
        ("lib.escapeShellArg \"it's\"", "'it'\\''s'"),
        ('lib.escapeShellArgs [ "a b" "c" ]', "'a b' c"),
        ('lib.splitString "." "a.b.c"', ["a", "b", "c"]),
        ('lib.removePrefix "/nix" "/nix/store"', "/store"),
        ('lib.removeSuffix ".nix" "a.nix"', "a"),
        ('lib.hasPrefix "a" "abc" && lib.hasSuffix "c" "abc"', True),
        ('lib.toUpper "ab" + lib.toLower "CD"', "ABcd"),
        ('lib.fixedWidthString 4 "0" "7"', "0007"),
        ("lib.fixedWidthNumber 2 5", "05"),
        ("lib.toHexString 255", "FF"),
        ("lib.recursiveUpdate { a.b = 1; a.c = 1; } { a.c = 2; }", {"a": {"b": 1, "c": 2}}),
        ('lib.attrByPath [ "a" "b" ] 0 { a.b = 5; }', 5),
        ('lib.setAttrByPath [ "a" "b" ] 1', {"a": {"b": 1}}),
        ('lib.getAttrFromPath [ "a" ] { a = 2; }', 2),
        ('lib.hasAttrByPath [ "a" "x" ] { a.b = 1; }', False),
        ('lib.mapAttrs\' (n: v: lib.nameValuePair "x${n}" v) { a = 1; }', {"xa": 1}),
        ('lib.mapAttrsToList (n: v: n + v) { a = "1"; b = "2"; }', ["a1", "b2"]),
        ("lib.filterAttrs (n: v: v > 1) { a = 1; b = 2; }", {"b": 2}),
        ('lib.genAttrs [ "a" "b" ] (n: n + n)', {"a": "aa", "b": "bb"}),
        ("lib.foldr (x: acc: [ x ] ++ acc) [ ] [ 1 2 3 ]", [1, 2, 3]),
        ("lib.foldl' (a: b: a + b) 0 [ 1 2 3 ]", 6),
        ("lib.unique [ 3 1 3 2 1 ]", [3, 1, 2]),
        ("lib.flatten [ 1 [ 2 [ 3 ] ] ]", [1, 2, 3]),
        ("lib.range 2 4", [2, 3, 4]),
        ("lib.zipLists [ 1 2 ] [ 3 4 ]", [{"fst": 1, "snd": 3}, {"fst": 2, "snd": 4}]),
        ("lib.imap0 (i: v: i + v) [ 10 10 ] ++ lib.imap1 (i: v: i + v) [ 10 ]", [10, 11, 11]),
        ("lib.last [ 1 2 3 ]", 3),
        ("lib.toList 1 ++ lib.toList [ 2 ]", [1, 2]),
        ("lib.flip lib.const 1 2", 2),
        ('(lib.toposort (a: b: a < b) [ 3 1 2 ]).result', [1, 2, 3]),
        ("lib.fix (self: { a = 1; b = self.a + 1; })", {"a": 1, "b": 2}),
        ("lib.trivial.id 1 + lib.lists.head [ 1 ] + lib.strings.stringLength \"x\"", 3),
        ('lib.attrsets.attrNames { b = 1; a = 2; }', ["a", "b"]),
        ('lib.isDerivation { type = "derivation"; }', True),
        ('lib.assertMsg true "unused"', True),
        ("lib.elem 2 [ 1 2 ] && lib.isString \"s\" && lib.isAttrs { }", True),
    ],
)
def test_lib_helper(tmp_path: Path, expr: str, expected: Any) -> None:
    assert nix_value(expr, tmp_path) == expected


# ---------------------------------------------------------------------------
# A realistic machine (tests/tinyos/modules/machine: ~15 modules, 100+ options)


def test_realistic_machine_evaluates(tmp_path: Path) -> None:
    got = nix_value(
        f'(import {MACHINE} {{ inherit lib; hostName = "web1"; }}).config.system.summary',
        tmp_path,
    )
    assert got["hostName"] == "web1"
    assert got["etc"]["hostname"] == "web1\n"
    assert "sshd" in got["services"] and "nginx" in got["services"]
    assert got["users"]["alice"] == {"home": "/home/alice", "group": "users",
                                     "extraGroups": ["wheel"]}
    assert "-A INPUT -p tcp --dport 22 -j ACCEPT" in got["firewall"]


def test_fifty_realistic_machines_evaluate_in_one_process(tmp_path: Path) -> None:
    # How fast is measured in bench/, not asserted here.
    got = nix_value(
        f"map (i: (import {MACHINE} {{ inherit lib; hostName = \"m${{toString i}}\"; }})"
        ".config.system.summary.hostName) (lib.range 1 50)",
        tmp_path,
    )
    assert got == [f"m{i}" for i in range(1, 51)]


# ---- closer to nixpkgs' lib (issue 12, point 7) -----------------------------

def test_unknown_option_suggests_close_declared_names(tmp_path: Path) -> None:
    err = config_error(tmp_path, "enable", d=decl("enable", "types.bool", "default = false;"),
                       e="{ enabel = true; }")
    assert "The option `enabel' does not exist. Definition values:" in err
    assert "Did you mean `enable'?" in err


def test_unknown_option_suggests_the_three_closest_siblings(tmp_path: Path) -> None:
    # nixpkgs: up to three declared names at the same place, closest first (ties in
    # name order), however far they are when there are fewer than 100 of them
    err = config_error(tmp_path, "bar",
                       d1=decl("bar", "types.int", "default = 1;"),
                       d2=decl("baz", "types.int", "default = 1;"),
                       d3=decl("foo", "types.int", "default = 1;"),
                       d4=decl("quux", "types.int", "default = 1;"),
                       e="{ ba = 1; }")
    assert "Did you mean `bar', `baz' or `foo'?" in err


def test_nested_unknown_option_suggests_the_full_path(tmp_path: Path) -> None:
    err = config_error(tmp_path, "a.port", d=decl("a.port", "types.int", "default = 1;"),
                       e="{ a.prot = 2; }")
    assert "The option `a.prot' does not exist." in err
    assert "Did you mean `a.port'?" in err


def test_module_of_another_class_is_refused(tmp_path: Path) -> None:
    mods = modules(tmp_path, darwin='{ _class = "darwin"; }')
    err = nix_error(f'(lib.evalModules {{ class = "nixos"; modules = {mods}; }}).config', tmp_path)
    assert (f'The module `{tmp_path}/darwin.nix` (class: "darwin") cannot be imported into'
            ' a module evaluation that expects class "nixos".') in err


def test_module_of_the_same_class_or_without_class_is_accepted(tmp_path: Path) -> None:
    mods = modules(tmp_path, a='{ _class = "nixos"; }', b="{ }")
    expr = f'(lib.evalModules {{ class = "nixos"; modules = {mods}; }}).config'
    assert nix_value(expr, tmp_path) == {}


def test_submoduleWith_class_checks_its_modules(tmp_path: Path) -> None:
    expr = """(lib.evalModules { modules = [ {
      options.sub = lib.mkOption {
        type = lib.types.submoduleWith { class = "nixos"; modules = [ ]; };
      };
      config.sub = { _class = "darwin"; };
    } ]; }).config.sub"""
    assert ('(class: "darwin") cannot be imported into a module evaluation that expects'
            ' class "nixos".') in nix_error(expr, tmp_path)


def test_disabledModules_string_is_relative_to_modulesPath(tmp_path: Path) -> None:
    (tmp_path / "mods").mkdir()
    module(tmp_path, "mods/defines.nix", "{ value = 2; }")
    expr = f"""(lib.evalModules {{
      specialArgs.modulesPath = {tmp_path}/mods;
      modules = [ {tmp_path}/mods/defines.nix {{
        disabledModules = [ "defines.nix" ];
        options.value = lib.mkOption {{ default = 1; }};
      }} ];
    }}).config.value"""
    assert nix_value(expr, tmp_path) == 1


def test_declarationPositions_name_file_line_and_column(tmp_path: Path) -> None:
    mods = modules(tmp_path, d='{ lib, ... }: {\n  options.x = lib.mkOption { default = 1; };\n}\n')
    expr = f"(lib.evalModules {{ modules = {mods}; }}).options.x.declarationPositions"
    got = nix_value(expr, tmp_path)
    # Nix 2.8 places a dotted attribute path (options.x) at its first name
    assert got == [{"file": f"{tmp_path}/d.nix", "line": 2, "column": 3}]


PKGS = """{
  hello = { type = "derivation"; pname = "hello"; outPath = "/hello"; };
  other.hello = { type = "derivation"; pname = "hello-other"; outPath = "/other"; };
}"""


def package_option(tmp_path: Path, args: str, attr: str, pkgs: str = "pkgs") -> Any:
    return nix_value(f"""let pkgs = {PKGS}; e = lib.evalModules {{ modules = [ {{
      options.p = lib.mkPackageOption {pkgs} "hello" {args};
    }} ]; }}; in e.{attr}""", tmp_path)


def test_mkPackageOption_defaults_to_the_package_of_its_name(tmp_path: Path) -> None:
    assert package_option(tmp_path, "{ }", "config.p.pname") == "hello"
    assert package_option(tmp_path, "{ }", "options.p.defaultText.text") == "pkgs.hello"
    assert package_option(tmp_path, "{ }", "options.p.description") == "The hello package to use."


def test_mkPackageOption_without_default_has_no_value(tmp_path: Path) -> None:
    err = nix_error(f"""let pkgs = {PKGS}; in (lib.evalModules {{ modules = [ {{
      options.p = lib.mkPackageOption pkgs "hello" {{ default = null; }};
    }} ]; }}).config.p""", tmp_path)
    assert "The option `p' was accessed but has no value defined." in err


def test_mkPackageOption_nullable(tmp_path: Path) -> None:
    args = "{ nullable = true; default = null; }"
    assert package_option(tmp_path, args, "config.p") is None
    assert package_option(tmp_path, args, "options.p.type.description") == "null or package"


def test_mkPackageOption_example_extraDescription_and_pkgsText(tmp_path: Path) -> None:
    args = '{ example = "pkgs.hello.override { }"; extraDescription = "More."; }'
    assert package_option(tmp_path, args, "options.p.example.text") == "pkgs.hello.override { }"
    description = package_option(tmp_path, args, "options.p.description")
    assert description == "The hello package to use. More."
    other = '{ pkgsText = "myPkgs"; }'
    assert package_option(tmp_path, other, "config.p.pname", "pkgs.other") == "hello-other"
    text = package_option(tmp_path, other, "options.p.defaultText.text", "pkgs.other")
    assert text == "myPkgs.hello"


def test_anything_merges_equal_lists_and_refuses_different_ones(tmp_path: Path) -> None:
    # lists are not concatenated: equal definitions are one value, others conflict
    assert config(tmp_path, "v", d=decl("v", "types.anything"),
                  a="{ v = [ 1 ]; }", b="{ v = [ 1 ]; }") == [1]
    err = config_error(tmp_path, "v", d=decl("v", "types.anything"),
                       a="{ v = [ 1 ]; }", b="{ v = [ 2 ]; }")
    assert "The option `v' has conflicting definition values:" in err


def test_submoduleWith_declared_twice_with_different_classes_is_an_error(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "s",
        a='{ lib, ... }: { options.s = lib.mkOption { type = lib.types.submoduleWith'
          ' { class = "nixos"; modules = [ ]; }; default = { }; }; }',
        b='{ lib, ... }: { options.s = lib.mkOption { type = lib.types.submoduleWith'
          ' { class = "darwin"; modules = [ ]; }; }; }')
    assert "A submoduleWith option is declared multiple times with conflicting class values" in err


def test_options_nested_under_an_option_that_cannot_hold_them(tmp_path: Path) -> None:
    err = config_error(tmp_path, "set", a=decl("set", "types.attrsOf types.int"),
                       b=decl("set.enable", "types.bool", "default = false;"))
    assert ("The option `set' in module `" in err
            and "would be a parent of the following options, but its type"
            " `attribute set of signed integer' does not support nested options." in err)
    assert "option(s) with prefix `set.enable' in module `" in err


def test_a_non_attrset_where_a_submodule_expects_options(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "s.config",
        a='{ lib, ... }: { options.s = lib.mkOption { type = lib.types.submoduleWith {'
          ' modules = [ { options.config = lib.mkOption'
          ' { type = lib.types.bool; default = false; }; } ]; }; }; }',
        b="{ s.config = true; }")
    assert "you're trying to define a value of type `bool' rather than an attribute set" in err


def test_attrTag_value_is_one_tag_merged_by_its_type(tmp_path: Path) -> None:
    files = {"d": decl("v", "types.attrsOf (types.attrTag { n = mkOption { type = types.int; };"
                            " s = mkOption { type = types.str; }; })"),
             "a": '{ v.x.n = 1; v.y.s = "text"; }'}
    assert config(tmp_path, "v", **files) == {"x": {"n": 1}, "y": {"s": "text"}}


def test_attrTag_refuses_two_tags_or_an_unknown_one(tmp_path: Path) -> None:
    d = decl("v", "types.attrTag { n = mkOption { type = types.int; };"
                  " s = mkOption { type = types.str; }; }")
    for value in ('{ n = 1; s = "x"; }', "{ other = 1; }", "1"):
        err = config_error(tmp_path, "v", d=d, a=f"{{ v = {value}; }}")
        assert ("A definition for option `v' is not of type"
                " `attribute-tagged union with choices: n, s'") in err


def test_attrTag_checks_the_tag_value_at_its_own_path(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v.n",
                       d=decl("v", "types.attrTag { n = mkOption { type = types.int; }; }"),
                       a='{ v.n = "one"; }')
    assert "A definition for option `v.n' is not of type `signed integer'" in err


@pytest.mark.parametrize(("args", "good", "bad", "description"), [
    ("{ absolute = true; }", "/etc/hosts", "etc/hosts", "absolute path"),
    ("{ absolute = false; }", "etc/hosts", "/etc/hosts", "relative path"),
    ("{ inStore = true; }", "/nix/store/0fb3ykw9r5hpayd05sr0cizwadzq1d8q-bash/bin/bash",
     "/nix/store/.links", "path in the Nix store"),
    ("{ absolute = true; inStore = false; }", "/var/lib/x",
     "/nix/store/0fb3ykw9r5hpayd05sr0cizwadzq1d8q-bash", "absolute path not in the Nix store"),
])
def test_pathWith(tmp_path: Path, args: str, good: str, bad: str, description: str) -> None:
    d = decl("p", f"types.pathWith {args}")
    assert config(tmp_path, "p", d=d, a=f'{{ p = "{good}"; }}') == good
    err = config_error(tmp_path, "p", d=d, a=f'{{ p = "{bad}"; }}')
    assert f"is not of type `{description}'" in err


def test_importing_a_configuration_says_to_import_its_modules(tmp_path: Path) -> None:
    err = config_error(tmp_path, "x",
                       a="{ lib, ... }: { imports = [ (lib.evalModules { modules = [ ]; }) ]; }")
    assert 'Expected a module, but found a value of type "configuration"' in err
    assert "please only import the modules that make up the configuration" in err
