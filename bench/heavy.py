"""A generated NixOS-style module set with real NixOS's evaluation weight.

Real NixOS evaluates about 1800 module files (`nixos/modules/module-list.nix`)
for every machine: it parses them, merges some 20 000 option declarations
with the definitions of every module, discharges mkIf/mkMerge/mkOverride, and
type-checks what the system's derivation reads. Published figures for
`nix-instantiate '<nixpkgs/nixos>' -A system`: about 1-2.7 s and 283-474 MB.
tinyos's own modules cost ~30 ms, so a benchmark on tinyos alone hides what
nixvms is for. This module writes a tree of module files that costs what
NixOS costs, for tinyos's module system (nixvms/tinyos/lib) and for
nixpkgs' alike (only lib.mkOption, mkEnableOption, mkIf, mkMerge,
mkDefault, mkOrder, literalExpression and common types are used):

    modules/default.nix          { imports = [ ./summary.nix ./g00/m0000.nix ... ]; }
    modules/summary.nix          bench.summary.lines -> environment.etc."bench-modules"
    modules/gGG/mNNNN.nix        one module: options.bench.gGG.mNNNN.* and config

Every module declares a dozen typed options with descriptions and examples
(an enable option, a port, a user, a list, a submodule of settings, an
attribute set of submodules, and `extra_options` plain ones), and defines
options of its own and of the next module with mkMerge, mkIf, mkDefault and
mkOrder. Every module adds one line to `bench.summary.lines`; an enabled
module's line reads every one of its options (a disabled one's reads its
enable option), and summary.nix writes the lines into
`/etc/bench-modules`. The VM's derivation depends on that file, so an
evaluation of the VM forces the whole option tree: the weight is real, not
parsed and thrown away.

The text does not depend on the network, so all machines of all networks
share the one /etc/bench-modules derivation (like the parts of NixOS every
machine shares); what differs between machines is the project's modules.

The defaults are calibrated (bench.run prints the calibration with every
run) to what the previous session measured with its generator of this
weight: 1800 files, 14 MB of Nix, one machine in its own Nix process about
1.4 s of CPU and about 600 MB peak RSS, 0.46 s of it parsing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

WORDS_TEXT = (
    "the service daemon socket listens address port configuration file directory "
    "state runtime user group permission certificate key secret token timeout retry "
    "interval cache database schema migration backup restore compression level "
    "network interface firewall rule chain table route gateway resolver domain "
    "record zone journal log rotation size limit memory cpu quota priority nice "
    "scheduler worker thread process signal reload restart stop start enable "
    "disable option module package version upstream default override merge list "
    "attribute value string integer boolean path store closure derivation output "
    "environment variable argument command line flag setting whether which when "
    "must should may not only also every each this that these those with without "
    "from into onto over under between before after during while until unless"
)
WORDS = WORDS_TEXT.split()

MODULES_PER_GROUP = 50


@dataclass(frozen=True)
class HeavySpec:
    """The knobs of the generated module set (defaults: calibrated)."""

    modules: int = 1800  # module files (NixOS: ~1800)
    extra_options: int = 11  # plain options per module beyond the structured ones
    description_words: int = 17  # words in each option's description
    enabled_every: int = 2  # one module in this many is enabled
    seed: int = 10

    def describe(self) -> str:
        return (f"{self.modules} modules, {self.extra_options} extra options each, "
                f"{self.description_words}-word descriptions, one in {self.enabled_every} "
                "enabled")


def module_name(index: int) -> tuple[str, str]:
    """(group, module) attribute names of module `index`."""
    return f"g{index // MODULES_PER_GROUP:02d}", f"m{index:04d}"


def _text(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    sentences = []
    for start in range(0, len(chosen), 12):
        part = chosen[start:start + 12]
        sentences.append(" ".join(part).capitalize() + ".")
    # A Nix indented string: no ${ or '' in the words.
    lines, line = [], ""
    for sentence in sentences:
        for word in sentence.split():
            if len(line) + len(word) > 70:
                lines.append(line)
                line = ""
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\n".join(f"        {x}" for x in lines)


def _description(rng: random.Random, words: int) -> str:
    return "''\n" + _text(rng, words) + "\n      ''"


def module_text(index: int, spec: HeavySpec) -> str:
    """The Nix text of module `index`."""
    rng = random.Random(spec.seed * 1_000_003 + index)
    group, name = module_name(index)
    next_group, next_name = module_name((index + 1) % spec.modules)
    enabled = "true" if index % spec.enabled_every == 0 else "false"
    words = spec.description_words

    def desc() -> str:
        return _description(rng, words)

    extras = []
    extra_reads = []
    for k in range(spec.extra_options):
        kind = k % 4
        if kind == 0:
            typ, default, example = "types.str", f'"{rng.choice(WORDS)}-{k}"', '"example"'
            read = f"cfg.option{k}"
        elif kind == 1:
            typ, default, example = "types.int", str(rng.randrange(1, 10_000)), "42"
            read = f"toString cfg.option{k}"
        elif kind == 2:
            typ, default, example = "types.bool", "false", "true"
            read = f'(if cfg.option{k} then "y" else "n")'
        else:
            typ, default = "types.listOf types.str", f'[ "{rng.choice(WORDS)}" ]'
            example = '[ "a" "b" ]'
            read = f'builtins.concatStringsSep "+" cfg.option{k}'
        extras.append(
            f"    option{k} = mkOption {{\n"
            f"      type = {typ};\n"
            f"      default = {default};\n"
            f"      example = {example};\n"
            f"      description = {desc()};\n"
            f"    }};\n"
        )
        extra_reads.append(f"${{{read}}}")
    enabled_line = " ".join([
        name,
        "${cfg.user}:${toString cfg.port}",
        "${cfg.settings.logLevel}",
        "${toString cfg.settings.workers}",
        "${toString cfg.settings.index}",
        '${builtins.concatStringsSep " " cfg.extraArgs}',
        '${builtins.concatStringsSep "," (lib.mapAttrsToList'
        ' (n: i: "${n}=${i.path}/${toString i.weight}") cfg.instances)}',
        *extra_reads,
    ])
    return f"""\
# Generated by bench/heavy.py: module {index} of the realistic-weight module set.
{{ config, lib, pkgs, ... }}:
let
  inherit (lib) mkOption mkEnableOption mkIf mkMerge mkDefault mkOrder types
    literalExpression;
  cfg = config.bench.{group}.{name};
  instanceOptions = {{ name, ... }}: {{
    options = {{
      enable = mkOption {{
        type = types.bool;
        default = true;
        description = {desc()};
      }};
      path = mkOption {{
        type = types.str;
        default = "/var/lib/{name}/${{name}}";
        defaultText = literalExpression ''"/var/lib/{name}/''${{name}}"'';
        description = {desc()};
      }};
      weight = mkOption {{
        type = types.int;
        default = 1;
        description = {desc()};
      }};
    }};
  }};
in
{{
  options.bench.{group}.{name} = {{
    enable = mkEnableOption "the generated service {name}" // {{ default = {enabled}; }};
    port = mkOption {{
      type = types.port;
      default = {1024 + index};
      description = {desc()};
    }};
    user = mkOption {{
      type = types.str;
      default = "{name}";
      description = {desc()};
    }};
    extraArgs = mkOption {{
      type = types.listOf types.str;
      default = [ ];
      example = literalExpression ''[ "--verbose" ]'';
      description = {desc()};
    }};
    settings = mkOption {{
      type = types.submodule {{
        options = {{
          logLevel = mkOption {{
            type = types.enum [ "debug" "info" "warn" "error" ];
            default = "info";
            description = {desc()};
          }};
          workers = mkOption {{
            type = types.int;
            default = 1;
            description = {desc()};
          }};
          index = mkOption {{
            type = types.int;
            default = 0;
            description = {desc()};
          }};
        }};
      }};
      default = {{ }};
      description = {desc()};
    }};
    instances = mkOption {{
      type = types.attrsOf (types.submodule instanceOptions);
      default = {{ }};
      description = {desc()};
    }};
{"".join(extras)}  }};

  config = mkMerge [
    {{
      bench.{group}.{name}.settings.index = mkDefault {index};
      bench.{group}.{name}.extraArgs = [ "--id={index}" ];
      bench.summary.lines = [
        (if cfg.enable then
          "{enabled_line}"
        else "{name} off")
      ];
    }}
    (mkIf cfg.enable {{
      bench.{next_group}.{next_name}.extraArgs = mkOrder 1500 [ "--peer={name}" ];
      bench.{group}.{name} = {{
        settings.workers = mkDefault {1 + index % 4};
        instances.main = {{ }};
        instances.spare = {{ weight = mkDefault 2; }};
      }};
    }})
    (mkIf (cfg.enable && cfg.settings.logLevel == "debug") {{
      bench.{group}.{name}.extraArgs = [ "--debug" ];
    }})
  ];
}}
"""


SUMMARY = """\
# Generated by bench/heavy.py: every module's line goes into /etc/bench-modules,
# so the VM's derivation depends on every module's options.
{ config, lib, ... }:
{
  options.bench.summary.lines = lib.mkOption {
    type = lib.types.listOf lib.types.str;
    default = [ ];
    description = "One line per generated module: the values of its options.";
  };
  config.environment.etc."bench-modules".text =
    builtins.concatStringsSep "\\n" config.bench.summary.lines + "\\n";
}
"""


def write_modules(directory: Path, spec: HeavySpec) -> int:
    """Write the module set into `directory`; returns the bytes of Nix written."""
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    imports = ["./summary.nix"]
    for index in range(spec.modules):
        group, name = module_name(index)
        path = directory / group / f"{name}.nix"
        path.parent.mkdir(exist_ok=True)
        text = module_text(index, spec)
        path.write_text(text)
        total += len(text)
        imports.append(f"./{group}/{name}.nix")
    (directory / "summary.nix").write_text(SUMMARY)
    default = ("# Generated by bench/heavy.py: the module list, imported by every machine.\n"
               "{\n  imports = [\n" + "".join(f"    {p}\n" for p in imports) + "  ];\n}\n")
    (directory / "default.nix").write_text(default)
    return total + len(SUMMARY) + len(default)
