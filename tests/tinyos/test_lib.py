"""tinyos's lib has nixpkgs' module-system functions and types (issue 29): each test
evaluates real Nix (`nix-instantiate --eval --strict --json`) on small modules and
checks the value or the error sentence nixpkgs gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tinyos.test_module_system import (
    config,
    config_error,
    decl,
    module,
    modules,
    nix_error,
    nix_value,
)

pytestmark = pytest.mark.nix


def evaluation(tmp_path: Path, attr: str, **files: str) -> object:
    """The value of `attr` of the evaluation (config.x, options.x.y, graph, ...)."""
    mods = modules(tmp_path, **files)
    return nix_value(f"(lib.evalModules {{ modules = {mods}; }}).{attr}", tmp_path)


# ---------------------------------------------------------------------------
# Options without definitions


@pytest.mark.parametrize(("type_", "empty"), [
    ("types.listOf types.int", []),
    ("types.attrsOf types.int", {}),
    ("types.nullOr types.int", None),
    ("types.attrs", {}),
    ("types.coercedTo types.int toString (types.listOf types.str)", []),
])
def test_an_undefined_option_is_its_types_empty_value(
    tmp_path: Path, type_: str, empty: object,
) -> None:
    assert config(tmp_path, "v", d=decl("v", type_)) == empty


def test_an_undefined_submodule_option_is_its_options_defaults(tmp_path: Path) -> None:
    d = decl("v", "types.submodule { options.n = mkOption { default = 13; }; }")
    assert config(tmp_path, "v", d=d) == {"n": 13}


def test_an_undefined_option_of_a_type_without_empty_value_is_an_error(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d=decl("v", "types.nonEmptyListOf types.int"))
    assert "The option `v' was accessed but has no value defined. Try setting the option." in err


# ---------------------------------------------------------------------------
# valueMeta and v2 merges


def test_valueMeta_of_attrsOf_submodule_holds_each_configuration(tmp_path: Path) -> None:
    d = decl("v", "types.attrsOf (types.submodule { options.n = mkOption { type = types.int; }; })")
    got = evaluation(tmp_path, "options.v.valueMeta.attrs.a.configuration.options.n.value",
                     d=d, a="{ v.a.n = 42; }")
    assert got == 42


def test_valueMeta_of_listOf_has_one_entry_per_element(tmp_path: Path) -> None:
    got = nix_value(
        "builtins.length (lib.evalModules { modules = [ { options.v = lib.mkOption"
        " { type = lib.types.listOf lib.types.int; }; config.v = [ 1 2 3 ]; } ]; })"
        ".options.v.valueMeta.list", tmp_path)
    assert got == 3


def test_an_ad_hoc_check_override_of_a_v2_type_is_refused(tmp_path: Path) -> None:
    d = decl("v", "types.attrsOf types.int // { check = x: true; }")
    err = config_error(tmp_path, "v", d=d, a="{ v.a = 1; }")
    assert "uses an ad-hoc `type // { check = ...; }' override, which is incompatible with" in err
    assert "Please use `lib.types.addCheck` instead of `type // { check }' to add" in err


def test_addCheck_on_a_v2_type_reports_the_failed_check(tmp_path: Path) -> None:
    d = decl("v", "types.addCheck (types.attrsOf types.int) (x: x ? a)")
    err = config_error(tmp_path, "v", d=d, a="{ v.b = 1; }")
    assert ("A definition for option `v' is not of type `attribute set of signed integer'."
            " TypeError: Definition values:") in err


# ---------------------------------------------------------------------------
# Definitions and renames


def test_mkDefinition_names_its_own_file_in_errors(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, "v", d=decl("v", "types.int"),
        a='{ lib, ... }: { v = lib.mkDefinition { file = "forwarded.nix"; value = "x"; }; }')
    assert "- In `forwarded.nix': \"x\"" in err


def test_doRename_with_a_false_condition_forwards_nothing(tmp_path: Path) -> None:
    got = config(
        tmp_path, "new",
        d=decl("new", "types.int", "default = 1;"),
        r="""{ lib, ... }: { imports = [ (lib.doRename { from = [ "old" ]; to = [ "new" ];
               visible = true; warn = false; use = x: x; condition = false; }) ]; }""",
        a="{ old = 5; }",
    )
    assert got == 1


def test_importApply_applies_the_file_to_its_argument_and_keeps_the_file(tmp_path: Path) -> None:
    module(tmp_path, "fn.nix", """staticArg: { lib, ... }: {
        options.v = lib.mkOption { type = lib.types.str; default = staticArg; };
    }""")
    got = nix_value(
        f'(lib.evalModules {{ modules = [ (lib.modules.importApply {tmp_path}/fn.nix "abc") ]; }})'
        ".options.v.declarations", tmp_path)
    assert got == [f"{tmp_path}/fn.nix"]
    assert nix_value(
        f'(lib.evalModules {{ modules = [ (lib.importApply {tmp_path}/fn.nix "abc") ]; }})'
        ".config.v", tmp_path) == "abc"


def test_mergeAttrDefinitionsWithPrio_gives_each_attribute_its_value_and_priority(
    tmp_path: Path,
) -> None:
    module(tmp_path, "d.nix", decl("v", "types.attrsOf types.int"))
    module(tmp_path, "a.nix", "{ lib, ... }: { v.a = lib.mkDefault 1; v.b = 2; }")
    got = nix_value(
        f"lib.modules.mergeAttrDefinitionsWithPrio (lib.evalModules {{ modules ="
        f" [ {tmp_path}/d.nix {tmp_path}/a.nix ]; }}).options.v", tmp_path)
    assert got == {"a": {"value": 1, "highestPrio": 1000}, "b": {"value": 2, "highestPrio": 100}}


# ---------------------------------------------------------------------------
# Module arguments, classes and the import graph


def test_the_class_module_argument_can_choose_imports(tmp_path: Path) -> None:
    module(tmp_path, "poly.nix", """{ _class, lib, ... }: {
        imports = [ (lib.optionalAttrs (_class == "nixos") {
          options.foo = lib.mkOption { default = "bar"; };
        }) ];
    }""")
    got = nix_value(
        f'(lib.evalModules {{ class = "nixos"; modules = [ {tmp_path}/poly.nix ]; }}).config.foo',
        tmp_path)
    assert got == "bar"


def test_the_prefix_module_argument_is_the_submodules_option_path(tmp_path: Path) -> None:
    d = decl("sub", """types.submodule ({ _prefix, ... }: {
        options.where = mkOption { default = _prefix; };
    })""")
    assert config(tmp_path, "sub.where", d=d, a="{ sub = { }; }") == ["sub"]


def test_the_graph_lists_each_modules_imports_and_whether_it_is_disabled(tmp_path: Path) -> None:
    module(tmp_path, "b.nix", '{ imports = [ { key = "inner"; } ]; }')
    module(tmp_path, "a.nix", "{ disabledModules = [ ./b.nix ]; }")
    got = nix_value(
        f"(lib.evalModules {{ modules = [ {tmp_path}/a.nix {tmp_path}/b.nix ]; }}).graph", tmp_path)
    assert got == [
        {"key": f"{tmp_path}/a.nix", "file": f"{tmp_path}/a.nix", "imports": [], "disabled": False},
        {"key": f"{tmp_path}/b.nix", "file": f"{tmp_path}/b.nix", "disabled": True,
         "imports": [{"key": "inner", "file": f"{tmp_path}/b.nix", "imports": [],
                      "disabled": False}]},
    ]


def test_a_configuration_value_in_imports_is_explained(tmp_path: Path) -> None:
    err = config_error(tmp_path, "x",
                       a="{ lib, ... }: { imports = [ { _type = \"flake\"; } ]; }")
    assert ('Expected a module, but found a value of type "flake",'
            " while trying to load a module") in err
    assert "Perhaps you forgot to select an attribute name?" in err


# ---------------------------------------------------------------------------
# Types


def test_attrListOf_keeps_the_definitions_order_with_mkOrder(tmp_path: Path) -> None:
    got = config(
        tmp_path, "v", d=decl("v", "types.attrListOf types.str"),
        a='{ lib, ... }: { v = [ { x = "1"; } (lib.mkAfter { z = "3"; }) ]; }',
        b='{ lib, ... }: { v = [ (lib.mkBefore { y = "0"; }) ]; }',
    )
    assert got == [{"y": "0"}, {"x": "1"}, {"z": "3"}]


def test_attrListOf_refuses_an_element_with_two_keys(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d=decl("v", "types.attrListOf types.str"),
                       a='{ v = [ { x = "1"; y = "2"; } ]; }')
    assert ("A definition for option `v' is not of type `attribute list of string'. Each list"
            " element must be a single-key attribute set, but got 2 keys.") in err


def test_attrListWith_asAttrs_gives_an_attribute_set_of_the_values(tmp_path: Path) -> None:
    got = config(tmp_path, "v",
                 d=decl("v", "types.attrListWith { elemType = types.int; asAttrs = true; }"),
                 a="{ v = [ { a = 1; } { b = 2; } { a = 3; } ]; }")
    assert got == {"a": [1, 3], "b": [2]}


def test_attrListOf_is_not_merged_when_declared_twice(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d1=decl("v", "types.attrListOf types.int"),
                       d2=decl("v", "types.attrListOf types.int"))
    assert "The option `v' in `" in err and "is already declared in" in err


def test_serializableValueWith_holds_nested_values(tmp_path: Path) -> None:
    got = config(tmp_path, "v", d=decl("v", 'types.serializableValueWith { typeName = "VAL"; }'),
                 a='{ v = { a = [ 1 null "x" { b = true; } ]; }; }')
    assert got == {"a": [1, None, "x", {"b": True}]}


def test_serializableValueWith_refuses_a_function_naming_the_format(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d=decl("v", "types.json"), a="{ v = x: x; }")
    assert "A definition for option `v' is not of type `JSON value'." in err


def test_fileset_definitions_are_merged_into_their_union(tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "one").write_text("1")
    (tmp_path / "two").write_text("2")
    module(tmp_path, "d.nix", decl("v", "types.fileset"))
    module(tmp_path, "a.nix", "{ v = ./files; }")
    module(tmp_path, "b.nix", "{ v = ./two; }")
    got = nix_value(
        f"map toString (lib.fileset.toList (lib.evalModules {{ modules ="
        f" [ {tmp_path}/d.nix {tmp_path}/a.nix {tmp_path}/b.nix ]; }}).config.v)", tmp_path)
    assert got == [f"{tmp_path}/files/one", f"{tmp_path}/two"]


def test_fileset_refuses_a_string(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d=decl("v", "types.fileset"), a='{ v = "./."; }')
    assert "A definition for option `v' is not of type `fileset'. Definition values:" in err


def test_optionDeclaration_accepts_mkOption_and_refuses_other_values(tmp_path: Path) -> None:
    d = decl("v", "types.optionDeclaration")
    ok = config(tmp_path, "v.default", d=d,
                a="{ lib, ... }: { v = lib.mkOption { default = 10; }; }")
    assert ok == 10
    err = config_error(tmp_path, "v", d=d, a="{ v = 10; }")
    assert "A definition for option `v' is not of type `option declaration'." in err


def test_attrsWith_placeholder_names_the_attribute_in_option_paths(tmp_path: Path) -> None:
    d = decl("v", """types.attrsWith { placeholder = "id";
        elemType = types.submodule { options.n = mkOption { type = types.int; }; }; }""")
    got = nix_value(
        f"((lib.evalModules {{ modules = [ {module(tmp_path, 'd.nix', d)} ]; }})"
        '.options.v.type.getSubOptions [ "v" ]).n.loc', tmp_path)
    assert got == ["v", "<id>", "n"]


def test_attrTag_refuses_a_bare_type_as_a_tag(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v.n", d=decl("v", "types.attrTag { n = types.int; }"),
                       a="{ v.n = 1; }")
    assert ("In attrTag, each tag value must be an option, but tag n was a bare type,"
            " not wrapped in mkOption.") in err


def test_externalPath_refuses_a_path_literal(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d=decl("v", "types.externalPath"), a="{ v = ./a.nix; }")
    assert "is not of type `absolute path not in the Nix store'" in err


def test_a_freeform_submodules_sub_options_include_the_freeform_types(tmp_path: Path) -> None:
    d = decl("v", """types.submodule { freeformType = types.attrsOf (types.submodule {
        options.n = mkOption { type = types.int; }; }); }""")
    got = nix_value(
        f"builtins.attrNames ((lib.evalModules {{ modules = [ {module(tmp_path, 'd.nix', d)} ]; }})"
        '.options.v.type.getSubOptions [ "v" ])._freeformOptions', tmp_path)
    assert "n" in got


def test_functionTo_submodule_options_are_under_function_body(tmp_path: Path) -> None:
    d = decl("f", "types.functionTo (types.submodule { options.a = mkOption { }; })")
    got = nix_value(
        f"((lib.evalModules {{ modules = [ {module(tmp_path, 'd.nix', d)} ]; }})"
        '.options.f.type.getSubOptions [ "f" ]).a.loc', tmp_path)
    assert got == ["f", "<function body>", "a"]


def test_types_anything_merges_two_equal_lists(tmp_path: Path) -> None:
    got = config(tmp_path, "v", d=decl("v", "types.anything"),
                 a='{ v = [ 1 "a" ]; }', b='{ v = [ 1 "a" ]; }')
    assert got == [1, "a"]


def test_nonEmptyListOf_is_described_as_nixpkgs_does(tmp_path: Path) -> None:
    err = config_error(tmp_path, "v", d=decl("v", "types.nonEmptyListOf (types.submodule { })"),
                       a="{ v = [ ]; }")
    assert "is not of type `non-empty (list of (submodule))'." in err


# ---------------------------------------------------------------------------
# Other lib functions


def test_gvariant_values_render_as_gvariant_text(tmp_path: Path) -> None:
    got = nix_value(
        "with lib.gvariant; map toString [ (mkValue [ \"a\" ]) (mkUint32 4)"
        " (mkTuple [ (mkInt32 1) true ]) (mkJust (mkString \"it's\")) (mkEmptyArray type.string) ]",
        tmp_path)
    assert got == ["@as ['a']", "@u 4", "@(ib) (1,true)", "just 'it\\'s'", "@as []"]


def test_gvariant_refuses_to_guess_an_integers_type(tmp_path: Path) -> None:
    err = nix_error("toString (lib.gvariant.mkValue 3)", tmp_path)
    assert "The GVariant type for number “3” is unclear." in err


def test_cli_toCommandLineGNU_renders_short_and_long_options(tmp_path: Path) -> None:
    got = nix_value(
        'lib.cli.toCommandLineGNU { } { v = true; level = 3; x = [ "a" "b" ]; q = null; }',
        tmp_path)
    assert got == ["--level=3", "-v", "-xa", "-xb"]


def test_optionAttrSetToDocList_lists_submodule_sub_options(tmp_path: Path) -> None:
    d = decl("s", "types.attrsOf (types.submodule { options.n = mkOption { type = types.int; }; })")
    got = nix_value(
        f"map (o: o.name) (lib.optionAttrSetToDocList (lib.evalModules {{ modules ="
        f" [ {module(tmp_path, 'd.nix', d)} ]; }}).options)", tmp_path)
    assert "s" in got and "s.<name>.n" in got


def test_levenshtein_is_the_edit_distance(tmp_path: Path) -> None:
    assert nix_value('map (lib.strings.levenshtein "kitten") [ "sitting" "kitten" "" ]',
                     tmp_path) == [3, 0, 6]


# ---------------------------------------------------------------------------
# lib.meta: getExe and getExe' (nixpkgs' lib/meta.nix)

PACKAGE = '{ type = "derivation"; name = "jq-1.6"; outPath = "/store/jq"; }'


def test_getExe_is_the_main_program_of_meta_mainProgram(tmp_path: Path) -> None:
    pkg = ('{ type = "derivation"; name = "netcat-1.2"; outPath = "/store/nc";'
           ' meta.mainProgram = "nc"; }')
    assert nix_value(f"lib.getExe {pkg}", tmp_path) == "/store/nc/bin/nc"


def test_getExe_without_mainProgram_is_the_name_without_version(tmp_path: Path) -> None:
    assert nix_value(f"lib.getExe {PACKAGE}", tmp_path) == "/store/jq/bin/jq"


def test_getExe_prime_names_any_program_of_the_package(tmp_path: Path) -> None:
    assert nix_value(f'lib.getExe\' {PACKAGE} "jq-extra"', tmp_path) == "/store/jq/bin/jq-extra"


def test_getExe_prime_refuses_a_path_with_a_slash(tmp_path: Path) -> None:
    err = nix_error(f'lib.getExe\' {PACKAGE} "bin/jq"', tmp_path)
    assert "contains a /" in err


def test_getExe_refuses_what_is_not_a_derivation(tmp_path: Path) -> None:
    assert "not a derivation" in nix_error('lib.getExe "jq"', tmp_path)
