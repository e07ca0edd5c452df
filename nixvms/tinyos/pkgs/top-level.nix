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
      # the builders' shell (bash in nixpkgs): busybox's, since tinyos's bash
      # finds its libraries only on a booted machine (/lib/<multiarch>)
      shell = "${busybox}/bin/sh";
      # nixpkgs' syntax check of a runtime script: bash -n, run by the
      # build machine's bash (an i686 machine built on x86_64 cannot run
      # its own i386 bash there: no i386 loader) with its libraries
      shellDryRun =
        let buildBash = if system == builtins.currentSystem then bash
          else (import ./top-level.nix { system = builtins.currentSystem; }).bash;
        in "LD_LIBRARY_PATH=${builtins.concatStringsSep ":" buildBash.libDirs} ${buildBash}/bin/bash -n -O extglob";
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
      jq hello socat netcat python3 sudo radvd coreutils erofs-utils vsftpd ethtool iproute2 dbus;
    # perl: the interpreter alone (see debian-packages.nix)
    perl = runCommand "perl-${debian.storeVersion debian.packages.perl.version}" {
      passthru.meta.mainProgram = "perl";
    } ''
      mkdir -p $out/bin
      ln -s ${debian.packages.perl}/bin/perl $out/bin/perl
    '';
    # cowsay: Debian's perl script (usr/games) run by tinyos's perl, with its
    # cows (cowsay reads COWPATH, else /usr/share/cowsay/cows, absent here)
    # and Text::CharWidth (an XS module of its closure, outside perl's @INC)
    cowsay =
      let
        deb = debian.packages.cowsay.debs.cowsay;
        charwidth = debian.packages.cowsay.debs.libtext-charwidth-perl;
      in
      runCommand "cowsay-${debian.storeVersion debian.packages.cowsay.version}" {
        passthru.meta.mainProgram = "cowsay";
      } ''
        mkdir -p $out/bin
        for p in cowsay cowthink; do
          printf '#!%s\nexport COWPATH="''${COWPATH:-%s}"\nexec %s -I%s %s "$@"\n' \
            ${busybox}/bin/sh ${deb}/usr/share/cowsay/cows ${perl}/bin/perl \
            ${charwidth}/usr/lib/${platform.multiarch}/perl5/5.36 ${deb}/usr/games/$p > $out/bin/$p
          chmod 0555 $out/bin/$p
        done
        ln -s ${deb}/usr/share $out/share
      '';
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
      # as nixpkgs' bash: sh is bash in POSIX mode (NixOS's /bin/sh, `sh` on PATH)
      ln -s bash $out/bin/sh
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
    # nixpkgs' runtimeShell, the shell of scripts that run on the machine
    # (writeShellScript, unit scripts): bash, not busybox sh, whose applets
    # win over PATH (a service's `nc` would be busybox's, not pkgs.netcat's)
    runtimeShell = "${bash}/bin/bash";
    runtimeShellPackage = bash;

    inherit (import ./build-support/trivial-builders.nix {
      inherit system busybox runtimeShell;
      inherit (stdenv) shellDryRun;
      builder = "${debian.bootstrapBusybox}/bin/busybox";
    }) mkDerivation runCommand runCommandLocal writeTextFile writeText writeTextDir
       writeScript writeScriptBin writeShellScript writeShellScriptBin writeShellApplication
       symlinkJoin buildEnv;

    linux = import ./linux.nix { inherit runCommand requireDeb platform debian; };
    linuxPackages = { kernel = linux; };

    makeModulesClosure = import ./build-support/modules-closure.nix { inherit runCommand; };
    makeInitrd = import ./build-support/make-initrd.nix { inherit runCommand; };
    # (mkfs.erofs runs where the machine is built: buildPackages')
    inherit (import ./build-support/make-store-image.nix {
      inherit runCommand;
      inherit (buildPackages.debianPackages) erofs-utils;
    }) makeStoreImage makeStorePathImage;
    # nixpkgs' glibcLocales: lib/locale/locale-archive with the locales
    # given as "<name>/<charset>" (i18n.supportedLocales' form), compiled by
    # the build machine's localedef (Debian's libc-bin) from Debian's locale
    # sources; allLocales (every locale glibc supports) is refused.
    glibcLocales = lib.makeOverridable ({ locales ? [ "en_US.UTF-8/UTF-8" ], allLocales ? false }:
      let
        bp = buildPackages.debianPackages;
        # "en_US.UTF-8/UTF-8": input en_US, charmap UTF-8, name en_US.UTF-8
        # ("sr_RS.UTF-8@latin": input sr_RS@latin)
        compile = l: let
          parts = lib.splitString "/" l;
          name = builtins.head parts;
          m = builtins.match "([^.@]+)(\\.[^@]*)?(@.*)?" name;
          input = if m == null then name else builtins.elemAt m 0 + (if builtins.elemAt m 2 == null then "" else builtins.elemAt m 2);
        in if builtins.length parts != 2 || m == null then throw "glibcLocales: \"${l}\" is not <locale>/<charset>"
          else "localedef --prefix=$out -c -i ${lib.escapeShellArg input} -f ${lib.escapeShellArg (builtins.elemAt parts 1)} ${lib.escapeShellArg name}\n";
      in
      if allLocales then throw "glibcLocales: tinyos cannot compile all locales (allLocales); list them in i18n.supportedLocales"
      else runCommand "glibc-locales-${debian.storeVersion bp.locales.version}" { } ''
        export I18NPATH=${bp.locales.debs.locales}/usr/share/i18n PATH=${bp.libc-bin}/bin:${buildPackages.busybox}/bin:$PATH
        mkdir -p $out/usr/lib/locale
        ${lib.concatMapStrings compile (lib.unique locales)}
        mkdir -p $out/lib/locale
        mv $out/usr/lib/locale/locale-archive $out/lib/locale/
        rm -r $out/usr
      '') { };
    # nixpkgs' buildPackages: the packages of the machine that builds (the
    # Debian programs a build runs must run there; an i686 machine's do not
    # on x86_64, which has no i386 loader)
    buildPackages =
      if system == builtins.currentSystem then self
      else import ./top-level.nix { system = builtins.currentSystem; };
  };
in
self
