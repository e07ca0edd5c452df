# The packages tinyos makes from Debian binaries (nixpkgs' all-packages.nix
# entries for them), the same names for every system. Each entry:
#   deb  the Debian package whose programs the package provides; setup
#        fetches it and its Depends closure (the shared libraries) for every
#        architecture in platforms.nix and records the closure in debs.json;
#   env  (optional) debs -> attrs: environment variables the program
#        wrappers set, given the unpacked closure by Debian package name;
#   programs  (optional) more programs, paths inside the Debian package
#        outside usr/bin, usr/sbin, bin, sbin, that get a wrapper in bin/;
#        or debs -> store paths, for programs another package of the
#        closure ships (python3.11's interpreter is in python3.11-minimal);
#   aliases  (optional) { name = program; }: bin/name links to bin/program,
#        for the names nixpkgs' package has and Debian's alternatives or
#        renames give otherwise (nc for nc.openbsd);
#   libDirs  (optional) debs -> more library directories for LD_LIBRARY_PATH
#        (a program's RUNPATH names a /usr directory the guest lacks);
#   meta  (optional) nixpkgs' meta attributes the package carries
#        (meta.mainProgram, which lib.getExe reads).
# busybox is not here: it is the static bootstrap (debian.nix).
{
  dropbear = { deb = "dropbear-bin"; };
  # services.openssh's sftp subsystem and scp (NixOS's sshd ships both with
  # OpenSSH; dropbear runs them): OpenSSH's sftp-server, in libexec
  openssh-sftp-server = { deb = "openssh-sftp-server"; programs = [ "usr/lib/openssh/sftp-server" ]; };
  # ... and scp (sshd.nix puts only scp on PATH)
  openssh-client = { deb = "openssh-client"; };
  # the firewall's packet filter tool (networking.firewall; nft, the
  # nftables backend of NixOS's firewall)
  nftables = { deb = "nftables"; };
  # networking.firewall's default (iptables) backend: Debian's iptables,
  # whose iptables-nft/ip6tables-nft drive the kernel's nf_tables
  # (top-level.nix adds the plain iptables/ip6tables names)
  iptables = {
    deb = "iptables";
    # the match/target extensions (libxt_*.so); libxtables reads a ':' list
    env = debs: { XTABLES_LIBDIR = "${debs.iptables}/usr/lib/x86_64-linux-gnu/xtables:${debs.iptables}/usr/lib/i386-linux-gnu/xtables"; };
  };
  curl = { deb = "curl"; };
  # users.defaultUserShell (pkgs.bashInteractive in NixOS): the login shell
  # of normal users and root
  bash = { deb = "bash"; };
  # services.nginx: the binary (Debian's nginx); nginx-common in its closure
  # has mime.types, which the module's nginx.conf includes
  nginx = { deb = "nginx"; };
  # time.timeZone: /usr/share/zoneinfo (architecture-independent)
  tzdata = { deb = "tzdata"; };
  lynx = {
    deb = "lynx";
    env = debs: { LYNX_CFG = "${debs.lynx-common}/etc/lynx/lynx.cfg"; };
  };
  jq = { deb = "jq"; meta.mainProgram = "jq"; };
  hello = { deb = "hello"; meta.mainProgram = "hello"; };
  socat = { deb = "socat"; meta.mainProgram = "socat"; };
  # nixpkgs' netcat is OpenBSD's nc (from libressl); Debian's netcat-openbsd
  # ships it as nc.openbsd and makes nc with update-alternatives
  netcat = { deb = "netcat-openbsd"; aliases.nc = "nc.openbsd"; meta.mainProgram = "nc"; };
  # nixpkgs' inetutils is one package; Debian splits GNU inetutils' clients
  # (top-level.nix joins these as inetutils, with nixpkgs' program names:
  # Debian renames inetutils-tools' programs to inetutils-<name>)
  inetutils-telnet = { deb = "inetutils-telnet"; aliases.telnet = "inetutils-telnet"; };
  inetutils-ftp = { deb = "inetutils-ftp"; aliases.ftp = "inetutils-ftp"; };
  inetutils-ping = { deb = "inetutils-ping"; };
  inetutils-traceroute = { deb = "inetutils-traceroute"; aliases.traceroute = "inetutils-traceroute"; };
  inetutils-talk = { deb = "inetutils-talk"; aliases.talk = "inetutils-talk"; };
  inetutils-tools = {
    deb = "inetutils-tools";
    aliases = { hostname = "inetutils-hostname"; dnsdomainname = "inetutils-dnsdomainname";
                ifconfig = "inetutils-ifconfig"; logger = "inetutils-logger"; };
  };
  # python3: Debian's python3.11, whose interpreter is in python3.11-minimal
  # and whose standard library is split between libpython3.11-minimal (os,
  # encodings: the home) and libpython3.11-stdlib (json, http, lib-dynload),
  # which the interpreter, built for /usr, finds through PYTHONHOME/PYTHONPATH
  python3 = {
    deb = "python3.11";
    programs = debs: [ "${debs."python3.11-minimal"}/usr/bin/python3.11" ];
    aliases = { python3 = "python3.11"; python = "python3.11"; };
    env = debs: {
      PYTHONHOME = "${debs."libpython3.11-minimal"}/usr";
      PYTHONPATH = "${debs."libpython3.11-stdlib"}/usr/lib/python3.11:${debs."libpython3.11-stdlib"}/usr/lib/python3.11/lib-dynload";
    };
    meta.mainProgram = "python3";
  };
  # the sudo package (security.sudo's wrapper, which makes it setuid root,
  # is security/wrappers' job): Debian's sudo, whose plugins and
  # libsudo_util are in usr/libexec/sudo (its RUNPATH)
  sudo = {
    deb = "sudo";
    libDirs = debs: [ "${debs.sudo}/usr/libexec/sudo" ];
    meta.mainProgram = "sudo";
  };
  # /etc/protocols and /etc/services (nixpkgs' iana-etc; Debian's netbase
  # has the same IANA tables): getprotobyname("icmp") needs them (ping)
  netbase = { deb = "netbase"; };
  # services.radvd: the IPv6 router advertisement daemon (radvd, radvdump)
  radvd = { deb = "radvd"; meta.mainProgram = "radvd"; };
  # GNU coreutils (nixpkgs' coreutils; tinyos's PATH has busybox's applets,
  # tests name GNU's by store path: ${pkgs.coreutils}/bin/...)
  coreutils = { deb = "coreutils"; };
  # mkfs.erofs: the read-only image of a machine's store
  # (virtualisation.useNixStoreImage; qemu-vm.nix, make-store-image.nix),
  # run on the build machine (pkgs.buildPackages)
  erofs-utils = { deb = "erofs-utils"; meta.mainProgram = "mkfs.erofs"; };
  # services.vsftpd: the FTP server (Debian's, usr/sbin/vsftpd)
  vsftpd = { deb = "vsftpd"; meta.mainProgram = "vsftpd"; };
  # ethtool -i: a network device's driver (systemd.network.links' Driver=
  # match, which udev reads from ethtool for devices without a bus driver)
  ethtool = { deb = "ethtool"; meta.mainProgram = "ethtool"; };
  # glibcLocales (top-level.nix) is compiled on the build machine from the
  # locale sources and charmaps of Debian's locales with libc-bin's localedef
  locales = { deb = "locales"; };
  libc-bin = { deb = "libc-bin"; };
  # nixpkgs' iproute2: `ip` as NixOS has it in its base system (tests
  # filter addresses: `ip -o -6 addr show dev eth1 -tentative`, which
  # busybox's ip lacks); Debian ships it in /bin and /sbin
  iproute2 = { deb = "iproute2"; meta.mainProgram = "ip"; };
  # nixpkgs' perl with its core modules: Debian's perl (perl-base has the
  # interpreter and the modules it needs itself, perl-modules-5.36 and
  # libperl5.36 the rest), in @INC directories built for /usr that PERL5LIB
  # names in the store (top-level.nix keeps only bin/perl: Debian's other
  # perl programs are scripts whose #! names /usr/bin/perl)
  perl = {
    deb = "perl";
    programs = debs: [ "${debs.perl-base}/usr/bin/perl" ];
    env = debs: {
      PERL5LIB = builtins.concatStringsSep ":" (builtins.concatMap (ma: [
        "${debs.perl-base}/usr/lib/${ma}/perl-base"
        "${debs."libperl5.36"}/usr/lib/${ma}/perl/5.36"
        "${debs."perl-modules-5.36"}/usr/share/perl/5.36"
      ]) [ "x86_64-linux-gnu" "i386-linux-gnu" ]);
    };
    meta.mainProgram = "perl";
  };
  # cowsay's script and its cows (top-level.nix runs the script with perl:
  # its #! names /usr/bin/perl, which a tinyos machine lacks)
  cowsay = { deb = "cowsay"; };
  # su as NixOS's behaves (security/wrappers): util-linux's, with PAM;
  # only its bin/su and the libraries it loads are used
  util-linux = { deb = "util-linux"; };
  # services.dbus: the system bus (dbus-daemon; dbus-send from dbus-bin,
  # in its closure)
  dbus = {
    deb = "dbus-daemon";
    programs = debs: [ "${debs.dbus-bin}/usr/bin/dbus-send" ];
    meta.mainProgram = "dbus-daemon";
  };
  # systemd's programs that run without systemd as PID 1: timedatectl and
  # systemd-timedated (config/timezone.nix). Not pkgs.systemd: its
  # systemctl and journalctl need systemd itself; tinyos's are
  # systemd.package. Its programs find libsystemd-shared in
  # usr/lib/<multiarch>/systemd (their RUNPATH).
  systemd = {
    deb = "systemd";
    programs = [ "lib/systemd/systemd-timedated" ];
    libDirs = debs: map (ma: "${debs.libsystemd-shared}/usr/lib/${ma}/systemd") [ "x86_64-linux-gnu" "i386-linux-gnu" ];
  };
}
