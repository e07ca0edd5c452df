# Mirrors nixpkgs lib/lists.nix: list helpers with the same names and semantics.
{ lib }:
let
  inherit (builtins) head tail length elemAt genList filter foldl' concatLists concatMap elem
    sort partition any all;
in
rec {
  inherit head tail length elemAt genList filter foldl' concatLists concatMap elem sort partition
    any all;
  map = builtins.map;
  singleton = x: [ x ];
  forEach = xs: f: map f xs;
  foldr = op: nul: list:
    let len = length list; fold' = n: if n == len then nul else op (elemAt list n) (fold' (n + 1));
    in fold' 0;
  fold = foldr;
  foldl = op: nul: list:
    let foldl'' = n: if n == -1 then nul else op (foldl'' (n - 1)) (elemAt list n);
    in foldl'' (length list - 1);
  imap0 = f: list: genList (n: f n (elemAt list n)) (length list);
  imap1 = f: list: genList (n: f (n + 1) (elemAt list n)) (length list);
  ifilter0 = ipred: input:
    map (idx: elemAt input idx)
      (filter (idx: ipred idx (elemAt input idx)) (genList (x: x) (length input)));
  flatten = x: if builtins.isList x then concatMap flatten x else [ x ];
  remove = e: filter (x: x != e);
  findSingle = pred: default: multiple: list:
    let found = filter pred list; len = length found;
    in if len == 0 then default else if len != 1 then multiple else head found;
  findFirst = pred: default: list:
    let found = filter pred list; in if found == [ ] then default else head found;
  findFirstIndex = pred: default: list:
    let
      len = length list;
      go = i: if i == len then default else if pred (elemAt list i) then i else go (i + 1);
    in
    go 0;
  count = pred: foldl' (c: x: if pred x then c + 1 else c) 0;
  optional = cond: elem: if cond then [ elem ] else [ ];
  optionals = cond: elems: if cond then elems else [ ];
  toList = x: if builtins.isList x then x else [ x ];
  range = first: last: if first > last then [ ] else genList (n: first + n) (last - first + 1);
  replicate = n: elem: genList (_: elem) n;
  groupBy' = op: nul: pred: lst:
    builtins.mapAttrs (_: foldl' op nul) (groupBy pred lst);
  groupBy = builtins.groupBy or (pred: foldl' (r: e:
    let key = pred e; in r // { ${key} = (r.${key} or [ ]) ++ [ e ]; }) { });
  zipListsWith = f: fst: snd:
    genList (n: f (elemAt fst n) (elemAt snd n)) (lib.min (length fst) (length snd));
  zipLists = zipListsWith (fst: snd: { inherit fst snd; });
  reverseList = xs: let l = length xs; in genList (n: elemAt xs (l - n - 1)) l;
  sortOn = f: list:
    map (p: p.v) (sort (a: b: a.k < b.k) (map (v: { inherit v; k = f v; }) list));
  compareLists = cmp: a: b:
    if a == [ ] then (if b == [ ] then 0 else -1)
    else if b == [ ] then 1
    else let rel = cmp (head a) (head b); in
      if rel == 0 then compareLists cmp (tail a) (tail b) else rel;
  take = count: sublist 0 count;
  drop = count: list: sublist count (length list) list;
  sublist = start: count: list:
    let len = length list; in
    genList (n: elemAt list (n + start))
      (if start >= len then 0 else if start + count > len then len - start else count);
  last = list: assert list != [ ] || throw "lists.last: list must not be empty!";
    elemAt list (length list - 1);
  init = list: assert list != [ ] || throw "lists.init: list must not be empty!";
    take (length list - 1) list;
  isList = builtins.isList;
  # lib.unique: keeps the first occurrence, order preserved.
  unique = foldl' (acc: e: if elem e acc then acc else acc ++ [ e ]) [ ];
  intersectLists = e: filter (x: elem x e);
  subtractLists = e: filter (x: !(elem x e));
  mutuallyExclusive = a: b: length a == 0 || !(any (x: elem x a) b);
  allUnique = list: length (unique list) == length list;
  crossLists = f: foldl' (fs: args: concatMap (f: map f args) fs) [ f ];

  # lib.lists.listDfs / lib.lists.toposort (same result shape: { result } or { cycle; loops; })
  listDfs = stopOnCycles: before: list:
    let
      dfs' = us: visited: rest:
        let
          c = filter (x: before x us) visited;
          b = partition (x: before x us) rest;
        in
        if stopOnCycles && (length c > 0)
        then { cycle = us; loops = c; inherit visited rest; }
        else if length b.right == 0
        then { minimal = us; inherit visited rest; }
        else dfs' (head b.right) ([ us ] ++ visited) (tail b.right ++ b.wrong);
    in
    dfs' (head list) [ ] (tail list);
  toposort = before: list:
    let
      dfsthis = listDfs true before list;
      toporest = toposort before (dfsthis.visited ++ dfsthis.rest);
    in
    if length list < 2 then { result = list; }
    else if dfsthis ? cycle then
      { cycle = reverseList ([ dfsthis.cycle ] ++ dfsthis.visited); inherit (dfsthis) loops; }
    else if toporest ? cycle then toporest
    else { result = [ dfsthis.minimal ] ++ toporest.result; };
}
