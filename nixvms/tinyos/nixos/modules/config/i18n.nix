# Mirrors nixos/modules/config/i18n.nix: the locales a machine has
# (i18n.supportedLocales, compiled into pkgs.glibcLocales' locale-archive)
# and the one login shells use (LANG = i18n.defaultLocale, and
# extraLocaleSettings, in the session variables; /etc/locale.conf).
# NixOS's glibc finds the archive through LOCALE_ARCHIVE (set for sessions
# and every unit); tinyos's programs use Debian's glibc, which reads
# /usr/lib/locale/locale-archive, so that path is linked to the system's
# archive instead: the same locales for sessions and units alike.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.i18n;
in
{
  options.i18n = {
    glibcLocales = mkOption {
      type = types.path;
      default = pkgs.buildPackages.glibcLocales.override {
        allLocales = lib.any (x: x == "all") cfg.supportedLocales;
        locales = cfg.supportedLocales;
      };
      defaultText = lib.literalExpression ''
        pkgs.buildPackages.glibcLocales.override {
          allLocales = any (x: x == "all") config.i18n.supportedLocales;
          locales = config.i18n.supportedLocales;
        }
      '';
      example = lib.literalExpression "pkgs.glibcLocales";
      description = "Customized pkg.glibcLocales package. Changing this option can disable handling of i18n.defaultLocale and supportedLocale.";
    };
    defaultLocale = mkOption {
      type = types.str;
      default = "en_US.UTF-8";
      example = "nl_NL.UTF-8";
      description = "The default locale. It determines the language for program messages, the format for dates and times, sort order, and so on. It also determines the character set, such as UTF-8.";
    };
    extraLocaleSettings = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = { LC_MESSAGES = "en_US.UTF-8"; LC_TIME = "de_DE.UTF-8"; };
      description = "A set of additional system-wide locale settings other than LANG which can be configured with i18n.defaultLocale.";
    };
    supportedLocales = mkOption {
      type = types.listOf types.str;
      default = lib.unique (map (l: (lib.replaceStrings [ "utf8" "utf-8" "UTF8" ] [ "UTF-8" "UTF-8" "UTF-8" ] l) + "/UTF-8")
        ([ "C.UTF-8" cfg.defaultLocale ] ++ builtins.attrValues (lib.filterAttrs (n: _: n != "LANGUAGE") cfg.extraLocaleSettings)));
      defaultText = lib.literalExpression ''
        unique
          (builtins.map (l: (replaceStrings [ "utf8" "utf-8" "UTF8" ] [ "UTF-8" "UTF-8" "UTF-8" ] l) + "/UTF-8") (
            [ "C.UTF-8" config.i18n.defaultLocale ]
            ++ (attrValues (filterAttrs (n: v: n != "LANGUAGE") config.i18n.extraLocaleSettings))
          ))
      '';
      example = [ "en_US.UTF-8/UTF-8" "nl_NL.UTF-8/UTF-8" "nl_NL/ISO-8859-1" ];
      description = "List of locales that the system should support (\"all\": every locale glibc supports, which tinyos refuses).";
    };
  };

  config = {
    environment.systemPackages = lib.optional (cfg.supportedLocales != [ ]) cfg.glibcLocales;

    environment.sessionVariables = {
      LANG = cfg.defaultLocale;
      LOCALE_ARCHIVE = "/run/current-system/sw/lib/locale/locale-archive";
    } // cfg.extraLocaleSettings;

    # ‘/etc/locale.conf’ is used by systemd (NixOS's comment)
    environment.etc."locale.conf".source = pkgs.writeText "locale.conf" ''
      LANG=${cfg.defaultLocale}
      ${lib.concatStringsSep "\n" (lib.mapAttrsToList (n: v: "${n}=${v}") cfg.extraLocaleSettings)}
    '';

    # where Debian's glibc looks (see above)
    system.activationScripts.locale = lib.optionalString (cfg.supportedLocales != [ ]) ''
      mkdir -p /usr/lib
      ln -sfn ${cfg.glibcLocales}/lib/locale /usr/lib/locale
    '';
  };
}
