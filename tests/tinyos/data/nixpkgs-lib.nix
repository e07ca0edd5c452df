# A stand-in for nixpkgs' lib that has only the names nixpkgs' lib exports:
# the top-level names of nixpkgs' lib/default.nix (as of nixpkgs 24.05, read
# with the search tool, plus mkDefinition and oldestSupportedReleaseIsAtLeast of
# later releases) and the type names of its lib/types.nix. Each is taken
# from tinyos's lib; a module that reaches for a name nixpkgs does not export
# at that path (lib.findFirstIndex, which nixpkgs has only as
# lib.lists.findFirstIndex) fails to evaluate with this lib.
# Namespaces (lib.lists, lib.strings, ...) are passed through whole.
tinyosLib:
let
  topLevel = [
    # namespaces
    "trivial" "fixedPoints" "attrsets" "lists" "strings" "stringsWithDeps" "customisation"
    "derivations" "meta" "versions" "modules" "options" "types" "licenses" "sourceTypes"
    "systems" "cli" "gvariant" "generators" "asserts" "debug" "misc" "fetchers" "path"
    "filesystem" "fileset" "sources" "platforms" "kernel" "network" "maintainers" "teams"
    # builtins re-exported
    "addErrorContext" "isPath" "trace" "typeOf" "unsafeGetAttrPos"
    # trivial
    "id" "const" "pipe" "concat" "or" "and" "xor" "bitAnd" "bitOr" "bitXor" "bitNot"
    "boolToString" "mergeAttrs" "flip" "mapNullable" "inNixShell" "isFloat" "min" "max"
    "importJSON" "importTOML" "warn" "warnIf" "warnIfNot" "throwIf" "throwIfNot"
    "checkListOfEnum" "info" "showWarnings" "nixpkgsVersion" "version" "isInOldestRelease"
    "mod" "compare" "splitByAndCompare" "seq" "deepSeq" "lessThan" "add" "sub"
    "functionArgs" "setFunctionArgs" "isFunction" "toFunction" "mirrorFunctionArgs"
    "fromHexString" "toHexString" "toBaseDigits" "inPureEvalMode" "isBool" "isInt"
    "pathExists" "genericClosure" "readFile"
    # fixedPoints
    "fix" "fix'" "converge" "extends" "composeExtensions" "composeManyExtensions"
    "makeExtensible" "makeExtensibleWithCustomName"
    # attrsets
    "attrByPath" "hasAttrByPath" "setAttrByPath" "getAttrFromPath" "attrVals" "attrNames"
    "attrValues" "getAttrs" "catAttrs" "filterAttrs" "filterAttrsRecursive" "foldlAttrs"
    "foldAttrs" "collect" "nameValuePair" "mapAttrs" "mapAttrs'" "mapAttrsToList"
    "attrsToList" "concatMapAttrs" "mapAttrsRecursive" "mapAttrsRecursiveCond" "genAttrs"
    "isDerivation" "toDerivation" "optionalAttrs" "zipAttrsWithNames" "zipAttrsWith"
    "zipAttrs" "recursiveUpdateUntil" "recursiveUpdate" "matchAttrs" "mergeAttrsList"
    "overrideExisting" "showAttrPath" "getOutput" "getFirstOutput" "getBin" "getLib"
    "getStatic" "getDev" "getInclude" "getMan" "chooseDevOutputs" "zipWithNames" "zip"
    "recurseIntoAttrs" "dontRecurseIntoAttrs" "cartesianProduct" "cartesianProductOfSets"
    "mapCartesianProduct" "updateManyAttrsByPath" "listToAttrs" "hasAttr" "getAttr"
    "isAttrs" "intersectAttrs" "removeAttrs"
    # lists
    "singleton" "forEach" "map" "foldr" "fold" "foldl" "foldl'" "imap0" "imap1" "filter"
    "ifilter0" "concatMap" "flatten" "remove" "findSingle" "findFirst" "any" "all" "count"
    "optional" "optionals" "toList" "range" "replicate" "partition" "zipListsWith"
    "zipLists" "reverseList" "listDfs" "toposort" "sort" "sortOn" "naturalSort"
    "compareLists" "take" "drop" "sublist" "last" "init" "crossLists" "unique" "allUnique"
    "intersectLists" "subtractLists" "mutuallyExclusive" "groupBy" "groupBy'" "concatLists"
    "genList" "length" "head" "tail" "elem" "elemAt" "isList"
    # strings
    "concatStrings" "concatMapStrings" "concatImapStrings" "stringLength" "substring"
    "isString" "replaceStrings" "intersperse" "concatStringsSep" "concatMapStringsSep"
    "concatImapStringsSep" "concatLines" "makeSearchPath" "makeSearchPathOutput"
    "makeLibraryPath" "makeIncludePath" "makeBinPath" "optionalString" "hasInfix"
    "hasPrefix" "hasSuffix" "stringToCharacters" "stringAsChars" "escape" "escapeShellArg"
    "escapeShellArgs" "isStorePath" "isStringLike" "isValidPosixName" "toShellVar"
    "toShellVars" "trim" "trimWith" "escapeRegex" "escapeURL" "escapeXML" "replaceChars"
    "lowerChars" "upperChars" "toLower" "toUpper" "addContextFrom" "splitString"
    "removePrefix" "removeSuffix" "versionOlder" "versionAtLeast" "getName" "getVersion"
    "match" "split" "cmakeOptionType" "cmakeBool" "cmakeFeature" "mesonOption" "mesonBool"
    "mesonEnable" "nameFromURL" "enableFeature" "enableFeatureAs" "withFeature"
    "withFeatureAs" "fixedWidthString" "fixedWidthNumber" "toInt" "toIntBase10"
    "readPathsFromFile" "fileContents"
    # stringsWithDeps, customisation, derivations, meta
    "textClosureList" "textClosureMap" "noDepEntry" "fullDepEntry" "packEntry" "stringAfter"
    "overrideDerivation" "makeOverridable" "callPackageWith" "callPackagesWith"
    "extendDerivation" "hydraJob" "makeScope" "makeScopeWithSplicing"
    "makeScopeWithSplicing'" "lazyDerivation" "optionalDrvAttr" "addMetaAttrs"
    "dontDistribute" "setName" "updateName" "appendToName" "mapDerivationAttrset" "setPrio"
    "lowPrio" "lowPrioSet" "hiPrio" "hiPrioSet" "licensesSpdx" "getLicenseFromSpdxId"
    "getLicenseFromSpdxIdOr" "getExe" "getExe'"
    # filesystem, sources
    "pathType" "pathIsDirectory" "pathIsRegularFile" "packagesFromDirectoryRecursive"
    "cleanSourceFilter" "cleanSource" "sourceByRegex" "sourceFilesBySuffices"
    "commitIdFromGitRepo" "cleanSourceWith" "pathHasContext" "canCleanSource" "pathIsGitRepo"
    # modules
    "evalModules" "setDefaultModuleLocation" "unifyModuleSyntax" "applyModuleArgsIfFunction"
    "mergeModules" "mergeModules'" "mergeOptionDecls" "mergeDefinitions"
    "pushDownProperties" "dischargeProperties" "filterOverrides" "sortProperties"
    "fixupOptionType" "mkIf" "mkAssert" "mkMerge" "mkOverride" "mkOptionDefault" "mkDefault"
    "mkImageMediaOverride" "mkForce" "mkVMOverride" "mkFixStrictness" "mkOrder" "mkBefore"
    "mkAfter" "mkAliasDefinitions" "mkAliasAndWrapDefinitions" "fixMergeModules" "mkDefinition"
    "oldestSupportedReleaseIsAtLeast"
    "mkRemovedOptionModule" "mkRenamedOptionModule" "mkRenamedOptionModuleWith"
    "mkMergedOptionModule" "mkChangedOptionModule" "mkAliasOptionModule" "mkDerivedConfig"
    "doRename" "mkAliasOptionModuleMD" "evalOptionValue"
    # options
    "isOption" "mkEnableOption" "mkSinkUndeclaredOptions" "mergeDefaultOption"
    "mergeOneOption" "mergeEqualOption" "mergeUniqueOption" "getValues" "getFiles"
    "optionAttrSetToDocList" "optionAttrSetToDocList'" "scrubOptionValue"
    "literalExpression" "literalExample" "showOption" "showOptionWithDefLocs" "showFiles"
    "unknownModule" "mkOption" "mkPackageOption" "mkPackageOptionMD" "mdDoc" "literalMD"
    # types, asserts, debug
    "isType" "setType" "defaultTypeMerge" "defaultFunctor" "isOptionType" "mkOptionType"
    "assertMsg" "assertOneOf" "traceIf" "traceVal" "traceValFn" "traceSeq" "traceSeqN"
    "traceValSeq" "traceValSeqFn" "traceValSeqN" "traceValSeqNFn" "traceFnSeqN" "runTests"
    "testAllTrue"
    # misc (deprecated), versions
    "maybeEnv" "defaultMergeArg" "defaultMerge" "foldArgs" "maybeAttrNullable" "maybeAttr"
    "ifEnable" "checkFlag" "getValue" "checkReqs" "uniqList" "uniqListExt" "condConcat"
    "lazyGenericClosure" "innerModifySumArgs" "modifySumArgs" "innerClosePropagation"
    "closePropagation" "mapAttrsFlatten" "nvs" "setAttr" "setAttrMerge" "mergeAttrsWithFunc"
    "mergeAttrsConcatenateValues" "mergeAttrsNoOverride" "mergeAttrByFunc"
    "mergeAttrsByFuncDefaults" "mergeAttrsByFuncDefaultsClean" "mergeAttrBy" "fakeHash"
    "fakeSha256" "fakeSha512" "nixType" "imap" "splitVersion"
  ];

  typeNames = [
    "isType" "setType" "defaultTypeMerge" "defaultFunctor" "isOptionType" "mkOptionType"
    "optionDescriptionPhrase" "raw" "anything" "unspecified" "bool" "boolByOr" "int" "ints"
    "port" "float" "number" "numbers" "str" "nonEmptyStr" "singleLineStr" "strMatching"
    "separatedString" "lines" "commas" "envVar" "string" "passwdEntry" "attrs" "package"
    "shellPackage" "pkgs" "path" "pathInStore" "externalPath" "pathWith" "listOf"
    "nonEmptyListOf" "attrsOf" "lazyAttrsOf" "attrTag" "uniq" "unique" "nullOr"
    "functionTo" "submodule" "submoduleWith" "deferredModule" "deferredModuleWith"
    "optionType" "enum" "either" "oneOf" "coercedTo" "addCheck" "luaInline" "fileset"
    "attrsWith" "attrListOf" "attrListWith" "serializableValueWith" "json" "toml"
    "optionDeclaration" "loaOf" "mergeTypes" "noCheckForDocsModule"
  ];

  pick = names: set: builtins.listToAttrs (map (n: { name = n; value = set.${n}; })
    (builtins.filter (n: set ? ${n}) names));
in
pick topLevel tinyosLib // { types = pick typeNames tinyosLib.types; }
