# The packages tinyos makes from Debian binaries (nixpkgs' all-packages.nix
# entries for them), the same names for every system. Each entry:
#   deb  the Debian package whose programs the package provides; setup
#        fetches it and its Depends closure (the shared libraries) for every
#        architecture in platforms.nix and records the closure in debs.json;
#   env  (optional) debs -> attrs: environment variables the program
#        wrappers set, given the unpacked closure by Debian package name;
#   programs  (optional) more programs, paths inside the Debian package
#        outside usr/bin, usr/sbin, bin, sbin, that get a wrapper in bin/.
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
}
