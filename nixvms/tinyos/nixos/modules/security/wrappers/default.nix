# Mirrors nixos/modules/security/wrappers/default.nix: /run/wrappers/bin
# (security.wrapperDir), first on PATH, holds the programs that need
# privileges, made at activation since the store keeps no setuid bits.
# Every machine gets setuid-root su and passwd (shadow's in NixOS), so that
# an unprivileged user's `su alice` asks for alice's password; tinyos's are
# copies of busybox (whose su and passwd refuse to run without the setuid
# bit), which drops its privileges for every other applet.
#
# security.wrappers.<name>: NixOS installs a small wrapper program that
# execs `source`; tinyos copies `source` itself to /run/wrappers/bin/<program>
# with the owner, group, setuid/setgid bits and permissions asked for. So
# `source` must be a program the kernel runs with those privileges: an ELF
# binary whose libraries are in the system's search path (the kernel
# ignores setuid on #! scripts, and the dynamic loader ignores
# LD_LIBRARY_PATH for setuid programs); tinyos's Debian packages' bin/
# entries are such scripts, so a module giving one of them (security/sudo.nix)
# passes the Debian binary and links its libraries. capabilities is refused.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.security;
  wrapperOpts = { name, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether to enable the wrapper."; };
      source = mkOption { type = types.path; description = "The absolute path to the program to be wrapped."; };
      program = mkOption { type = types.str; default = name; description = "The name of the wrapper program (defaults to the attribute name)."; };
      owner = mkOption { type = types.str; description = "The owner of the wrapper program."; };
      group = mkOption { type = types.str; description = "The group of the wrapper program."; };
      permissions = mkOption {
        type = types.strMatching "[0-7]{3,4}|([ugoa]*[+=-][rwx]*,?)+";
        default = "u+rx,g+x,o+x";
        example = "a+rx";
        description = "The permissions of the wrapper program (chmod's symbolic or octal form).";
      };
      setuid = mkOption { type = types.bool; default = false; description = "Whether to add the setuid bit to the wrapper program."; };
      setgid = mkOption { type = types.bool; default = false; description = "Whether to add the setgid bit to the wrapper program."; };
      capabilities = mkOption { type = types.commas; default = ""; description = "A comma-separated list of capability clauses (refused by tinyos unless empty)."; };
    };
  };
  wrappers = builtins.filter (w: w.enable) (builtins.attrValues cfg.wrappers);
  # su: util-linux's (Debian's; NixOS's is shadow's, also PAM), whose -c
  # runs the command in a session of its own (setsid), as NixOS's su does:
  # a command there has no controlling terminal of the caller's (sudo's
  # tty timestamps do not carry over). It loads libpam, libpam_misc and
  # libc only; the PAM services su and su-l check passwords with pam_unix.
  # (PAM's modules and what they load: from sudo's closure, which has
  # libpam-modules; util-linux's has only libpam0g)
  suDebs = pkgs.debianPackages.util-linux.debs;
  pamDebs = pkgs.sudo.debs;
  multiarch = pkgs.tinyosPlatform.multiarch;
  pamModules = "${pamDebs."libpam-modules"}/lib/${multiarch}/security";
  suLibDirs = builtins.concatMap (n: [ "${pamDebs.${n}}/lib/${multiarch}" "${pamDebs.${n}}/usr/lib/${multiarch}" ])
    (builtins.filter (n: pamDebs ? ${n})
      [ "libpam0g" "libpam-modules" "libcrypt1" "libaudit1" "libcap-ng0" "libselinux1" "libpcre2-8-0" ]);
  suPam = ''
    auth     sufficient ${pamModules}/pam_rootok.so
    auth     required   ${pamModules}/pam_unix.so
    account  required   ${pamModules}/pam_unix.so
    session  required   ${pamModules}/pam_unix.so
  '';
  bit = on: if on then "+" else "-";
in
{
  options.security = {
    wrappers = mkOption {
      type = types.attrsOf (types.submodule wrapperOpts);
      default = { };
      example = lib.literalExpression ''{ ping = { owner = "root"; group = "root"; setuid = true; source = "''${pkgs.iputils.out}/bin/ping"; }; }'';
      description = "This option effectively allows adding setuid/setgid bits and/or changing file ownership and permissions of programs in /run/wrappers/bin.";
    };
    wrapperDir = mkOption {
      type = types.path;
      default = "/run/wrappers/bin";
      internal = true;
      description = "The directory of the wrappers (on PATH before the system's).";
    };
  };

  config = {
    environment.etc."pam.d/su".text = suPam;
    environment.etc."pam.d/su-l".text = suPam;
    assertions = map (w: {
      assertion = w.capabilities == "";
      message = "security.wrappers.${w.program}.capabilities: tinyos cannot give a program file capabilities (busybox has no setcap)";
    }) wrappers;
    # su's libraries where a setuid program finds them
    boot.tinyosSystemLibraries = suLibDirs;
    # (on PATH: config/system-path.nix)
    system.activationScripts.wrappers = {
      deps = [ "users" ];
      text = ''
        mkdir -p ${cfg.wrapperDir}
        cp ${suDebs.util-linux}/bin/su ${cfg.wrapperDir}/su
        cp ${pkgs.busybox}/bin/busybox ${cfg.wrapperDir}/passwd
        chown root:root ${cfg.wrapperDir}/su ${cfg.wrapperDir}/passwd
        chmod 4755 ${cfg.wrapperDir}/su ${cfg.wrapperDir}/passwd
      '' + lib.concatMapStrings (w: ''
        rm -f ${cfg.wrapperDir}/${w.program}
        cp ${w.source} ${cfg.wrapperDir}/${w.program}
        chmod 0000 ${cfg.wrapperDir}/${w.program}
        chown ${w.owner}:${w.group} ${cfg.wrapperDir}/${w.program}
        chmod "u${bit w.setuid}s,g${bit w.setgid}s,${w.permissions}" ${cfg.wrapperDir}/${w.program}
      '') wrappers;
    };
  };
}
