# The package set (nixpkgs' pkgs/top-level/all-packages.nix plays this role):
# every package is a derivation built by busybox from Debian .debs recorded
# in debs.json (see scripts/setup-tinyos).
{ system ? builtins.currentSystem }@args:
let
  platforms = import ./platforms.nix;
  supported = builtins.concatStringsSep ", " (builtins.attrNames platforms);
  # checked before anything else is looked up for it (e.g. in debs.json)
  system =
    if platforms ? ${args.system or builtins.currentSystem} then args.system or builtins.currentSystem
    else throw "tinyos: unsupported system \"${args.system or builtins.currentSystem}\"; tinyos supports: ${supported}";
  platform = platforms.${system};

  debian = import ./debian.nix { inherit system platform; };

  self = rec {
    lib = import ../lib;
    path = ../.; # as nixpkgs' pkgs.path: the root of the package set's tree
    inherit system;

    # nixpkgs' stdenv.hostPlatform attributes the NixOS modules here read.
    stdenv = {
      inherit system mkDerivation;
      hostPlatform = {
        inherit system;
        inherit (platform) is32bit;
        isLinux = true;
        isx86 = true;
        is64bit = !platform.is32bit;
        linuxArch = if platform.is32bit then "i386" else "x86_64";
      };
      buildPlatform = stdenv.hostPlatform;
      targetPlatform = stdenv.hostPlatform;
      shell = runtimeShell;
    };
    # tinyos facts NixOS modules need and nixpkgs keeps elsewhere (qemu-common.nix).
    tinyosPlatform = platform;

    inherit (debian) requireDeb unpackDeb bootstrapBusybox;

    # busybox from busybox-static, with a symlink per applet (as nixpkgs'
    # busybox has), unpacked by the bootstrap copy of the same binary.
    busybox = debian.busybox;
    # packages from Debian binaries with their shared libraries
    # (debian-packages.nix): dropbear, lynx, ...
    inherit (debian.packages) dropbear lynx nftables curl nginx tzdata openssh-sftp-server openssh-client
      jq hello socat netcat python3 sudo;
    # nixpkgs' names for the same nginx (tinyos has Debian's one version)
    nginxMainline = nginx;
    nginxStable = nginx;
    # nixpkgs' default python is python3
    python311 = python3;
    # nixpkgs' iana-etc: the IANA protocol and service tables as etc/protocols
    # and etc/services, taken from Debian's netbase
    iana-etc = runCommand "iana-etc-${debian.storeVersion debian.packages.netbase.version}" { } ''
      mkdir -p $out/etc
      ln -s ${debian.packages.netbase.debs.netbase}/etc/protocols ${debian.packages.netbase.debs.netbase}/etc/services $out/etc/
    '';
    # GNU inetutils' clients as nixpkgs' one package (Debian splits them)
    inetutils = symlinkJoin {
      name = "inetutils-${debian.storeVersion debian.packages.inetutils-tools.version}";
      paths = map (n: debian.packages.${n})
        [ "inetutils-telnet" "inetutils-ftp" "inetutils-ping" "inetutils-traceroute" "inetutils-talk" "inetutils-tools" ];
    };
    # shells carry nixpkgs' passthru.shellPath (users-groups.nix's toShellPath)
    # bin/bash is Debian's binary itself, not a wrapper script: a login
    # (argv[0] "-bash", which #! scripts lose) must reach it, so that it
    # reads /etc/profile as NixOS's bash does. Its libraries are found in
    # /lib/<multiarch>, Debian's system search path, where boot links
    # libDirs (stage-2.nix).
    bash = runCommand "bash-${debian.storeVersion debian.packages.bash.version}" {
      libDirs = builtins.concatMap (d: [ "${d}/lib/${platform.multiarch}" "${d}/usr/lib/${platform.multiarch}" ])
        (builtins.attrValues debian.packages.bash.debs);
      passthru.shellPath = "/bin/bash";
    } ''
      mkdir -p $out/bin $out/nix-support
      ln -s ${debian.packages.bash.debs.bash}/bin/bash $out/bin/bash
      # (a reference to each library directory: they are in the closure)
      for d in $libDirs; do if [ -d "$d" ]; then echo "$d"; fi; done > $out/nix-support/lib-dirs
    '';
    bashInteractive = bash;
    # nixpkgs' shadow as NixOS uses it: the default shell of system users,
    # bin/nologin, which says what shadow's nologin says and fails.
    shadow = runCommand "shadow-nologin" { passthru.shellPath = "/bin/nologin"; } ''
      mkdir -p $out/bin
      printf '#!%s\necho "This account is currently not available."\nexit 1\n' ${busybox}/bin/sh > $out/bin/nologin
      chmod 0555 $out/bin/nologin
    '';
    # iptables and ip6tables (-save, -restore) are Debian's nf_tables variants
    # (Debian picks them with update-alternatives)
    iptables = runCommand "iptables" { } ''
      mkdir -p $out/bin
      ln -s ${debian.packages.iptables}/bin/* $out/bin/
      for t in iptables ip6tables; do
        for s in "" -save -restore; do ln -s ${debian.packages.iptables}/bin/$t-nft$s $out/bin/$t$s; done
      done
    '';
    debianPackages = debian.packages;
    # the dynamic loader's package (glibc's role in nixpkgs)
    glibc = debian.libc;
    runtimeShell = "${busybox}/bin/sh";

    inherit (import ./build-support/trivial-builders.nix {
      inherit system busybox;
      builder = "${debian.bootstrapBusybox}/bin/busybox";
    }) mkDerivation runCommand runCommandLocal writeTextFile writeText writeTextDir
       writeScript writeScriptBin writeShellScript writeShellScriptBin writeShellApplication
       symlinkJoin buildEnv;

    linux = import ./linux.nix { inherit runCommand requireDeb platform debian; };
    linuxPackages = { kernel = linux; };

    makeModulesClosure = import ./build-support/modules-closure.nix { inherit runCommand; };
    makeInitrd = import ./build-support/make-initrd.nix { inherit runCommand; };
  };
in
self
